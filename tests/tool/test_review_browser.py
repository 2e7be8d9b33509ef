"""beetles review in a real headless browser: Debian's chromium and chromium-driver, driven by Selenium.

The tests skip when no browser is installed (``.ci/run`` installs one, so
CI runs them).  ``BEETLES_SCREENSHOT=path.png`` keeps the review page's
screenshot (the README's ``docs/review_page.png`` is one).
"""
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from beetles.formats.tps import read_tps, read_tps_records
from beetles.synth.dataset import generate_dataset
from beetles.tool.predict import write_predictions_csv
from beetles.tool.review.server import bind, create_app
from beetles.tool.review.start import ReviewSettings, open_review

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="Selenium is not installed (the test extra installs it)")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="no chromium and chromedriver (apt-get install chromium chromium-driver)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def beetles_photos(tmp_path_factory):
    """Three synthetic beetle photos (1024×768), their manual landmarks and predictions a few pixels off, with radii."""
    root = tmp_path_factory.mktemp("review_browser")
    part = generate_dataset(root / "data", parts=["pronotum"], specimens=3, seed=3, size=(1024, 768),
                            progress=False, workers=1)["pronotum"]
    manual = read_tps(part / "landmarks.tps", image_dir=part / "images")
    rng = np.random.default_rng(0)
    predicted = [s.landmarks + rng.normal(0, 6, s.landmarks.shape) for s in manual]
    radius = [np.linspace(12, 40, s.n_landmarks) * (k + 1) for k, s in enumerate(manual)]
    csv = write_predictions_csv(root / "pred.csv", [s.name for s in manual], predicted, radius, radius)
    return part, manual, csv


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                     "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


class Running:
    """The review server on 127.0.0.1, a free port, in a thread (as ``beetles review`` runs it)."""

    def __init__(self, session):
        import uvicorn

        self.sock = bind(0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/?token={TOKEN}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(session, TOKEN), log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def open_page(browser, url):
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return window.reviewPage && window.reviewPage.ready"))


def landmark_on_screen(browser, k):
    """The photo's index, landmark ``k``'s point (photo pixels, y down), where it is on the canvas, the view's scale."""
    return browser.execute_script(
        "const r = window.reviewPage, p = r.page.photo.points[arguments[0]];"
        "return [r.page.photo.index, p, r.toScreen(p[0], p[1]), r.page.view.scale];", k)


def drag(browser, start, offset):
    canvas = browser.find_element(By.ID, "canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    ActionChains(browser, duration=50).move_to_element_with_offset(
        canvas, round(start[0] - width / 2), round(start[1] - height / 2)).click_and_hold() \
        .move_by_offset(offset[0] // 2, offset[1] // 2).move_by_offset(offset[0] - offset[0] // 2,
                                                                       offset[1] - offset[1] // 2) \
        .release().perform()


def wait_for(check, timeout=10.0):
    """Poll ``check()`` until it is true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("the page's change did not reach the file")


def tps_point(path, name, k, height):
    """Landmark ``k`` of photo ``name`` in the TPS file on disk, y down."""
    record = next(r for r in read_tps_records(path) if r.image == name)
    x, y_up = record.landmarks_up[k]
    return np.array([x, height - y_up])


def test_drag_a_landmark_with_the_mouse_undo_redo_and_accept(tmp_path, beetles_photos, browser):
    part, manual, csv = beetles_photos
    out = tmp_path / "corrected.tps"
    session = open_review(ReviewSettings(photos=[part / "images"], out=out, predictions=csv),
                          log=lambda t: None, warn=lambda t: None)
    with Running(session) as running:
        open_page(browser, running.url)
        index, point, screen, scale = landmark_on_screen(browser, 0)
        photo = session.photos[index]
        assert photo.name == "pronotum_0003.jpg"  # the largest radii: first in the queue
        before = tps_point(out, photo.name, 0, photo.height)
        np.testing.assert_allclose(before, point, atol=1e-3)
        drag(browser, screen, (60, 40))
        expected = np.array(point) + np.array([60, 40]) / scale
        wait_for(lambda: np.abs(tps_point(out, photo.name, 0, photo.height) - before).max() > 1)
        moved = tps_point(out, photo.name, 0, photo.height)
        np.testing.assert_allclose(moved, expected, atol=2.5 / scale)
        assert session.photos[index].status == "edited"
        shot = Path(os.environ.get("BEETLES_SCREENSHOT") or tmp_path / "review_page.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

        body = browser.find_element(By.TAG_NAME, "body")
        ActionChains(browser).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        wait_for(lambda: np.abs(tps_point(out, photo.name, 0, photo.height) - before).max() < 1e-3)
        ActionChains(browser).key_down(Keys.CONTROL).send_keys("y").key_up(Keys.CONTROL).perform()
        wait_for(lambda: np.abs(tps_point(out, photo.name, 0, photo.height) - moved).max() < 1e-3)
        body.send_keys("m")  # landmark 1 marked missing
        wait_for(lambda: np.isnan(tps_point(out, photo.name, 0, photo.height)).all())
        body.send_keys(Keys.ENTER)  # accept, and on to the next photo
        wait_for(lambda: browser.execute_script("return window.reviewPage.page.position") == 1)
        assert "edited" in browser.find_element(By.ID, "queue").text
    assert not (tmp_path / ".corrected.tps.tmp").exists()


def test_manual_landmarking_by_clicks(tmp_path, beetles_photos, browser):
    part, manual, _ = beetles_photos
    out = tmp_path / "manual.tps"
    session = open_review(ReviewSettings(photos=[part / "images"], out=out, landmarks=3), log=lambda t: None)
    with Running(session) as running:
        open_page(browser, running.url)
        canvas = browser.find_element(By.ID, "canvas")
        photo = session.photos[0]
        for k, (x, y) in enumerate([(100, 200), (400, 300), (700, 650)]):
            screen = browser.execute_script("return window.reviewPage.toScreen(arguments[0], arguments[1])", x, y)
            ActionChains(browser).move_to_element_with_offset(
                canvas, round(screen[0] - canvas.size["width"] / 2),
                round(screen[1] - canvas.size["height"] / 2)).click().perform()
            wait_for(lambda: not np.isnan(tps_point(out, photo.name, k, photo.height)).any())
            placed = tps_point(out, photo.name, k, photo.height)
            scale = browser.execute_script("return window.reviewPage.page.view.scale")
            np.testing.assert_allclose(placed, [x, y], atol=2 / scale)
    assert read_tps_records(out)[1].landmarks_up.shape == (3, 2) and np.isnan(read_tps_records(out)[1].landmarks_up).all()
