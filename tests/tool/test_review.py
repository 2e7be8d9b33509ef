"""beetles review: the session's files and the web API, through Starlette's test client."""
import io
import json
import socket

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from beetles.cli import main
from beetles.core.errors import BeetlesError
from beetles.formats.tps import read_tps, read_tps_records
from beetles.tool.inputs import load_training_data
from beetles.tool.predict import write_predictions_csv
from beetles.tool.review.server import MAX_BODY, bind, create_app
from beetles.tool.review.session import EDITED, NOT_SEEN, REVIEWED, ReviewSession, reviewed_names, sidecar_path
from beetles.tool.review.start import ReviewSettings, open_review
from tests.tool.discs import LANDMARKS, disc_part

TOKEN = "test-token"


@pytest.fixture
def photos(tmp_path):
    """Six disc photos (one portrait) and their manual landmarks (y down), plus a prediction CSV with radii."""
    part = disc_part(tmp_path / "part", photos=[(160, 120, "RGB", ".jpg")] * 5 + [(120, 160, "RGB", ".png")])
    manual = read_tps(part / "landmarks.tps", image_dir=part / "images")
    names = [s.name for s in manual]
    predicted = [s.landmarks + 3.0 for s in manual]
    radius = [np.full(LANDMARKS, 2.0 + k) for k in range(len(manual))]  # the last photo is the least certain
    csv = write_predictions_csv(tmp_path / "pred.csv", names, predicted, [r / 2 for r in radius], radius)
    return part, manual, predicted, csv


def client_for(session):
    return TestClient(create_app(session, TOKEN, hosts=("testserver",)), headers={"X-Review-Token": TOKEN})


def review(tmp_path, part, **changes):
    run = ReviewSettings(photos=[part / "images"], out=tmp_path / "corrected.tps", browser=False, **changes)
    return open_review(run, log=lambda text: None, warn=lambda text: None)


def test_queue_least_certain_first_and_points_in_photo_pixels(tmp_path, photos):
    part, manual, predicted, csv = photos
    session = review(tmp_path, part, predictions=csv)
    client = client_for(session)
    state = client.get("/api/session").json()
    assert state["landmarks"] == LANDMARKS and state["mode"] == "review"
    order = [entry["name"] for entry in state["queue"]]
    assert order == [s.name for s in manual][::-1]  # radius 7, 6, … 2 px
    assert state["counts"] == {NOT_SEEN: 6, REVIEWED: 0, EDITED: 0}
    index = state["queue"][0]["index"]
    photo = client.get(f"/api/photos/{index}").json()
    assert (photo["width"], photo["height"]) == (120, 160)
    np.testing.assert_allclose(photo["points"], predicted[-1], atol=1e-3)
    assert photo["radius"] == [7.0] * LANDMARKS
    view = client.get(f"/api/photos/{index}/view", params={"size": 80})
    assert view.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(view.content)).size == (60, 80)
    crop = client.get(f"/api/photos/{index}/crop", params={"x": 10, "y": 20, "w": 40, "h": 30, "size": 400})
    assert Image.open(io.BytesIO(crop.content)).size == (41, 31) and crop.headers["x-crop"] == "10,20,51,51"


def test_a_move_and_a_missing_landmark_are_on_disk_at_once_and_survive_a_restart(tmp_path, photos):
    part, manual, predicted, csv = photos
    session = review(tmp_path, part, predictions=csv)
    client = client_for(session)
    index = client.get("/api/session").json()["queue"][0]["index"]
    photo = client.get(f"/api/photos/{index}").json()
    points = photo["points"]
    points[0] = [50.25, 40.5]  # y down
    reply = client.post(f"/api/photos/{index}", json={"points": points, "absent": photo["absent"]})
    assert reply.status_code == 200 and reply.json()["status"] == EDITED
    records = {r.image: r for r in read_tps_records(tmp_path / "corrected.tps")}
    moved = records[photo["name"]]
    np.testing.assert_allclose(moved.landmarks_up[0], [50.25, 160 - 40.5])  # written y up, tpsDig's way
    other = next(i for i in range(6) if i != index)
    other_photo = client.get(f"/api/photos/{other}").json()
    absent = [False] * LANDMARKS
    absent[1] = True
    client.post(f"/api/photos/{other}", json={"points": other_photo["points"], "absent": absent, "accept": True})
    text = (tmp_path / "corrected.tps").read_text()
    assert "-1 -1" in text and text.count("LM=3") == 6
    accepted = next(i for i in range(6) if i not in (index, other))
    client.post(f"/api/photos/{accepted}", json={"points": client.get(f"/api/photos/{accepted}").json()["points"],
                                                 "accept": True})
    assert client.get("/api/session").json()["counts"] == {NOT_SEEN: 3, REVIEWED: 1, EDITED: 2}
    # a new server on the same --out: everything as it was
    again = client_for(review(tmp_path, part, predictions=csv))
    assert again.get("/api/session").json()["counts"] == {NOT_SEEN: 3, REVIEWED: 1, EDITED: 2}
    assert again.get(f"/api/photos/{index}").json()["points"][0] == [50.25, 40.5]
    assert again.get(f"/api/photos/{other}").json()["points"][1] is None
    assert reviewed_names(tmp_path / "corrected.tps") == {photo["name"], other_photo["name"],
                                                         session.photos[accepted].name}


def test_the_tps_keeps_id_and_scale_of_the_input_and_numbers_the_rest(tmp_path, photos):
    part, manual, predicted, csv = photos
    lines = []
    for k, s in enumerate(manual[:3]):
        lines += [f"LM={LANDMARKS}", *(f"{x} {s.frame.height - y}" for x, y in s.landmarks), f"IMAGE={s.name}",
                  f"ID=spec{k}", "SCALE=0.0125"]
    (tmp_path / "pred.tps").write_text("\n".join(lines) + "\n")
    warnings = []
    session = open_review(ReviewSettings(photos=[part / "images"], out=tmp_path / "out.tps",
                                         predictions=tmp_path / "pred.tps"), log=lambda t: None, warn=warnings.append)
    assert "no landmarks for 3 of the photos" in warnings[0]
    records = read_tps_records(tmp_path / "out.tps")
    assert [r.id for r in records[:3]] == ["spec0", "spec1", "spec2"] and records[0].scale == 0.0125
    assert [r.id for r in records[3:]] == ["3", "4", "5"]  # numbered from 0 by position, as tpsDig numbers
    np.testing.assert_allclose(records[0].landmarks_up, [[x, 120 - y] for x, y in manual[0].landmarks], atol=1e-4)
    assert np.isnan(records[4].landmarks_up).all()  # not in the predictions: to place by hand
    assert session.photos[4].predicted is None


def test_manual_landmarking_places_landmarks_in_order(tmp_path, photos):
    part, manual, _, _ = photos
    with pytest.raises(BeetlesError, match="--landmarks N"):
        review(tmp_path, part)
    names = tmp_path / "names.txt"
    names.write_text("tip\nbase\n\nleft eye\n")
    session = review(tmp_path, part, landmarks=3, names=names)
    client = client_for(session)
    state = client.get("/api/session").json()
    assert state["mode"] == "manual" and state["names"] == ["tip", "base", "left eye"]
    assert [e["name"] for e in state["queue"]] == sorted(s.name for s in manual)
    client.post("/api/photos/0", json={"points": [[10, 20], None, None]})
    assert client.get("/api/photos/0").json()["status"] == EDITED
    record = read_tps_records(tmp_path / "corrected.tps")[0]
    np.testing.assert_allclose(record.landmarks_up[0], [10, 100])
    assert np.isnan(record.landmarks_up[1:]).all()
    bad_names = tmp_path / "two.txt"
    bad_names.write_text("a\nb\n")
    with pytest.raises(BeetlesError, match="2 landmark name\\(s\\), but the landmarks number 3"):
        review(tmp_path / "other", part, landmarks=3, names=bad_names)


def test_token_traversal_size_and_bad_changes_are_refused(tmp_path, photos):
    part, _, _, csv = photos
    session = review(tmp_path, part, predictions=csv)
    app = create_app(session, TOKEN, hosts=("testserver",))
    anonymous = TestClient(app)
    assert anonymous.get("/").status_code == 403
    assert anonymous.get("/api/session").status_code == 403
    assert anonymous.get("/api/photos/0/view", params={"token": "wrong"}).status_code == 403
    assert anonymous.get("/", params={"token": TOKEN}).status_code == 200
    assert TestClient(app, base_url="http://evil.example").get("/", params={"token": TOKEN}).status_code == 400
    client = client_for(session)
    page = client.get("/").text
    assert f'static/review.js?token={TOKEN}' in page
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")
    for path in ("/static/../session.py", "/static/%2e%2e%2fsession.py", "/static/review.html/../../server.py",
                 "/api/photos/99", "/api/photos/-1/view", "/api/photos/..%2f..%2fetc%2fpasswd/view", "/etc/passwd"):
        assert client.get(path).status_code in (400, 404), path
    assert client.get("/static/%2e%2e%2fsession.py").status_code == 404
    before = (tmp_path / "corrected.tps").read_bytes()
    too_big = client.post("/api/photos/0", content=b"x" * (MAX_BODY + 1))
    assert too_big.status_code == 413
    for body in ({"points": [[1, 2]]}, {"points": [[1, 2], [3, 4], [9999, 5]]}, {"points": [[1, 2], None, "x"]},
                 {"points": [[1, 2], None, None], "absent": [1, 0, 0]}):
        reply = client.post("/api/photos/0", json=body)
        assert reply.status_code == 400, body
    assert "outside the 160×120 photo" in client.post("/api/photos/0", json={"points": [[1, 2], [3, 4], [9999, 5]]}).text
    assert client.post("/api/photos/0", content=b"{not json").status_code == 400
    assert (tmp_path / "corrected.tps").read_bytes() == before


def test_a_user_file_is_never_overwritten_and_a_crash_between_writes_is_repaired(tmp_path, photos):
    part, _, _, csv = photos
    with pytest.raises(BeetlesError, match="is the --predictions file"):
        open_review(ReviewSettings(photos=[part / "images"], out=part / "landmarks.tps",
                                   predictions=part / "landmarks.tps"))
    with pytest.raises(BeetlesError, match="not written by beetles review"):
        open_review(ReviewSettings(photos=[part / "images"], out=part / "landmarks.tps", predictions=csv))
    session = review(tmp_path, part, predictions=csv)
    first = (tmp_path / "corrected.tps").read_bytes()
    session.update(0, [[5, 5], None, None])
    # a crash after the journal, before the TPS: the TPS is brought up to date on resume
    (tmp_path / "corrected.tps").write_bytes(first)
    notes = []
    resumed = ReviewSession.resume(tmp_path / "corrected.tps", log=notes.append)
    assert "brought up to date" in notes[0]
    assert read_tps_records(tmp_path / "corrected.tps")[0].landmarks_up[0].tolist() == [5, 115]
    assert resumed.photos[0].status == EDITED
    # changed by another program: refused, the file left alone
    (tmp_path / "corrected.tps").write_text((tmp_path / "corrected.tps").read_text().replace("LM=3", "LM=3 ", 1))
    changed = (tmp_path / "corrected.tps").read_bytes()
    with pytest.raises(BeetlesError, match="changed by another program"):
        ReviewSession.resume(tmp_path / "corrected.tps")
    assert (tmp_path / "corrected.tps").read_bytes() == changed
    assert json.loads(sidecar_path(tmp_path / "corrected.tps").read_text())["written_by"] == "beetles review"


def test_train_reads_only_the_reviewed_photos_of_a_review(tmp_path, photos):
    part, manual, _, csv = photos
    session = review(tmp_path, part, predictions=csv)
    for index in (1, 2):
        session.update(index, [list(map(float, p)) for p in manual[index].landmarks], accept=True)
    notes = []
    data = load_training_data(part, [part / "landmarks.tps", tmp_path / "corrected.tps"], log=notes.append)
    assert len(data) == 6 and "2 photo(s) reviewed or edited" in notes[0] and "4 not yet reviewed" in notes[0]
    alone = load_training_data(part, tmp_path / "corrected.tps")
    assert sorted(s.name for s in alone) == sorted(manual[i].name for i in (1, 2))


def test_review_from_a_model_folder_predicts_the_queue(tmp_path, trained):
    part, model = trained
    some = sorted((part / "images").iterdir())[:4]
    session = open_review(ReviewSettings(photos=[model, *some], out=tmp_path / "m.tps", progress=False),
                          log=lambda t: None)
    assert len(session.photos) == 4
    assert session.mode == "review" and session.source == str(model)
    assert all(p.predicted is not None and np.isfinite(p.radius).all() for p in session.photos)
    radii = [session.photos[i].uncertainty for i in session.queue()]
    assert radii == sorted(radii, reverse=True)
    with pytest.raises(BeetlesError, match="not both"):
        open_review(ReviewSettings(photos=[part / "images"], out=tmp_path / "n.tps", model_dir=model,
                                   predictions=tmp_path / "m.tps"))


def test_a_port_in_use_is_a_clear_error(tmp_path, photos, capsys):
    part, _, _, csv = photos
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(BeetlesError, match=f"--port {port}: in use"):
            bind(port)
        code = main(["review", str(part / "images"), "--out", str(tmp_path / "x.tps"), "--predictions", str(csv),
                     "--port", str(port), "--no-browser"])
    finally:
        taken.close()
    assert code == 2 and f"--port {port}: in use" in capsys.readouterr().err


def test_every_change_survives_a_killed_server(tmp_path, photos):
    """``beetles review`` as a user runs it, killed (SIGKILL) after a change, then run again."""
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    part, _, _, csv = photos
    out = tmp_path / "corrected.tps"
    command = [sys.executable, "-m", "beetles", "review", str(part / "images"), "--predictions", str(csv),
               "--out", str(out), "--port", "0", "--no-browser"]

    def start():
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = ""
        while "token=" not in line:
            line = server.stdout.readline()
            assert line, "beetles review printed no address"
        return server, re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line).groups()

    server, (base, token) = start()
    try:
        photo = json.load(urllib.request.urlopen(f"{base}/api/photos/2?token={token}"))
        points = photo["points"]
        points[2] = [12.5, 34.5]
        request = urllib.request.Request(f"{base}/api/photos/2?token={token}", method="POST",
                                         data=json.dumps({"points": points}).encode())
        assert json.load(urllib.request.urlopen(request))["status"] == EDITED
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    record = next(r for r in read_tps_records(out) if r.image == photo["name"])
    assert record.landmarks_up[2].tolist() == [12.5, photo["height"] - 34.5]
    server, (base, token) = start()
    try:
        again = json.load(urllib.request.urlopen(f"{base}/api/photos/2?token={token}"))
        assert again["points"][2] == [12.5, 34.5] and again["status"] == EDITED
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(10) == 0


def test_a_tps_list_of_photos_to_landmark_is_the_queue(tmp_path, photos):
    """tpsUtil's list of photos still to landmark (LM=0 blocks) as the input of a manual review."""
    part, manual, _, _ = photos
    listing = part / "images" / "todo.tps"
    listing.write_text("".join(f"LM=0\nIMAGE={s.name.upper()}\nID={k}\n" for k, s in enumerate(manual[:3])))
    session = open_review(ReviewSettings(photos=[listing], out=tmp_path / "todo_out.tps", landmarks=3),
                          log=lambda t: None)
    assert [p.name for p in session.photos] == [s.name for s in manual[:3]]
    (part / "images" / "gone.tps").write_text("LM=0\nIMAGE=nowhere.jpg\n")
    with pytest.raises(BeetlesError, match="1 named photo.s. not found beside it, e.g. nowhere.jpg"):
        open_review(ReviewSettings(photos=[part / "images" / "gone.tps"], out=tmp_path / "g.tps", landmarks=3))
