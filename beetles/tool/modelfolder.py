"""The model folder ``beetles train`` writes and ``beetles predict`` reads.

A model folder is written as a unit: ``beetles train`` fills a hidden
folder beside it (``.<name>.training-…``, :func:`staging_folder`) and, when
every file is written (``settings.json`` last, with the weights' SHA-256),
puts it in place of the old one in one step (:func:`publish`), holding the
folder's lock (:mod:`beetles.core.locks`) throughout.  A reader therefore
sees the old model, the new one, or (:func:`read_settings`) a clear
"incomplete" message; :func:`load_folder` checks the weights' checksum.  It
holds:

``model.pt``         the compact models (``cascade``, ``heatmap``, ``regress``): the
                     model's state (weights, batch-norm statistics, history), ``torch.save``
``params.npz``       the paper's models 1-3: the weights in Lasagne's layout (either engine)
``settings.json``    model, landmark count and names, engine, device, how photos are fitted, data
                     source, training and validation specimens, epochs, the model it was
                     retrained from (``parent``), seconds, versions, the command
                     (:func:`settings_record`)
``losses.csv``       loss per epoch (:class:`beetles.core.history.EpochLog`), ``fig_losses.png``
``validation.csv``   per landmark, over the held-out specimens: mean error in the photos'
                     pixels and in network pixels, mean spread
``validation.json``  the mean error, the trivial mean-shape predictor's error, how
                     well the spread ranks the errors (Spearman), and the 90 % radius's
                     coverage measured on halves of the held-out specimens
``calibration.json`` the 90 % radius's calibration (:mod:`beetles.core.calibration`),
                     when specimens were held out

Which weight file a model has is its registry entry's ``weights_file``.
"""
from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

from beetles.core.errors import BeetlesError, DataError, WeightsError
from beetles.core.frames import NETWORK
from beetles.core.versions import stack_versions
from beetles.registry import MODELS, load_model, model_info

SETTINGS_JSON = "settings.json"
#: The weight files of every registered model.
WEIGHT_FILES = tuple(dict.fromkeys(info.weights_file for info in MODELS.values()))
#: The files whose presence means a folder already holds a model.
MODEL_FILES = (*WEIGHT_FILES, SETTINGS_JSON)
#: Every file a model folder may hold: what --force may replace.
FOLDER_FILES = (*MODEL_FILES, "losses.csv", "fig_losses.png", "validation.csv", "validation.json",
                "calibration.json")
#: The settings.json layout; a later layout bumps it.
SETTINGS_FORMAT = 1
#: The hidden folders beside a model folder: a training in progress (or killed), an old folder being replaced.
TRAINING_SUFFIX, REPLACED_SUFFIX = ".training-", ".replaced-"


def staging_folder(out: Path) -> Path:
    """A new hidden folder beside ``out`` that a training fills before :func:`publish`."""
    out = Path(out)
    folder = out.parent / f".{out.name}{TRAINING_SUFFIX}{os.getpid()}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    return folder


def leftovers(out: Path, suffix: str = TRAINING_SUFFIX) -> list[Path]:
    """The hidden folders beside ``out`` of trainings that did not finish
    (``suffix``: :data:`TRAINING_SUFFIX`), or of a replacement that stopped
    half-way (:data:`REPLACED_SUFFIX`)."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    return sorted(p for p in out.parent.glob(f".{glob.escape(out.name)}{suffix}*") if p.is_dir())


def check_out(out: Path, force: bool, log=None) -> None:
    """Refuse an ``out`` that is a file, that holds a model unless ``force``,
    or that holds files no model folder has (never replaced); call it
    holding ``out``'s lock: hidden folders of trainings killed earlier are
    then removed (said to ``log``)."""
    if out.exists() and not out.is_dir():
        raise BeetlesError(f"{out}: exists and is not a folder")
    for stale in leftovers(out):
        shutil.rmtree(stale, ignore_errors=True)
        if log is not None:
            log(f"removed {stale.name}: the folder of an earlier training into {out} that did not finish")
    if not out.is_dir():
        return
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if n not in FOLDER_FILES]
    if foreign:
        raise BeetlesError(f"{out}: holds files that are not a model folder's ({', '.join(foreign[:5])}"
                           f"{', …' if len(foreign) > 5 else ''}); give a new or empty folder as --out")
    present = [name for name in MODEL_FILES if name in names]
    if present and not force:
        what = "a model" if SETTINGS_JSON in present else "an incomplete model (no settings.json)"
        raise BeetlesError(f"{out}: already holds {what} ({', '.join(present)}); use --force to replace it, "
                           "or choose another --out")


def publish(staged: Path, out: Path) -> None:
    """Put the finished folder ``staged`` in place of ``out`` in one step:
    an atomic exchange where the system has one (Linux's ``renameat2``),
    else ``out`` renamed aside, ``staged`` renamed to ``out`` (a reader in
    between is told what happened, :func:`read_settings`); the old folder
    is then removed."""
    staged, out = Path(staged), Path(out)
    if not out.exists():
        os.rename(staged, out)
        return
    if _exchange(staged, out):
        shutil.rmtree(staged, ignore_errors=True)  # now the old folder
        return
    aside = out.parent / f".{out.name}{REPLACED_SUFFIX}{secrets.token_hex(3)}"
    os.rename(out, aside)
    os.rename(staged, out)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2(RENAME_EXCHANGE)``; ``False``
    where the system or file system has no such call."""
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if call(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def read_settings(folder) -> dict:
    """``folder/settings.json``; a clear error when the folder is not a model
    folder, or is one whose training did not finish."""
    folder = Path(folder)
    if not folder.is_dir():
        replaced, training = leftovers(folder, REPLACED_SUFFIX), leftovers(folder)
        if replaced:
            raise DataError(f"{folder}: a training stopped while it replaced this model folder: the previous "
                            f"model is in {replaced[0]}" + (f", the new one in {training[0]}" if training else ""))
        if training:
            raise DataError(f"{folder}: its training did not finish (incomplete: {training[0].name}); "
                            f"train it again with 'beetles train … --out {folder}'")
        raise DataError(f"{folder}: model folder not found")
    path = folder / SETTINGS_JSON
    if not path.is_file():
        weights = [name for name in WEIGHT_FILES if (folder / name).is_file()]
        if weights:
            raise DataError(f"{folder}: an incomplete model folder ({', '.join(weights)} but no {SETTINGS_JSON}: "
                            f"its training stopped before it finished); train it again with --force")
        raise DataError(f"{folder}: not a model folder (no {SETTINGS_JSON}); train one with "
                        f"'beetles train --data DIR --out {folder}'")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(settings, dict):
        raise DataError(f"{path}: expected a JSON object")
    return settings


def load_folder(folder, device: str = "cpu"):
    """The trained :class:`~beetles.model.LandmarkModel` in ``folder`` (what
    ``beetles train`` wrote), on ``device`` (``cpu``, ``cuda``), with clear errors naming the file for a missing
    folder or file, or weights that do not fit the settings (another
    landmark count, another model)."""
    folder = Path(folder)
    settings = read_settings(folder)
    try:
        info = model_info(settings["model"])
        n_landmarks = int(settings["landmarks"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"{folder / SETTINGS_JSON}: no usable 'model' and 'landmarks' ({error})") from None
    check_weights(folder / info.weights_file, settings.get("weights_sha256"))
    return load_model(info, folder / info.weights_file, n_landmarks, device=device)


def file_sha256(path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weights(path: Path, expected: str | None) -> None:
    """A :class:`WeightsError` naming ``path`` when its SHA-256 is not the
    ``expected`` one ``settings.json`` recorded (``None``: a folder written
    before checksums, not checked)."""
    if expected is None or not path.is_file():
        return  # load_model names a missing file
    if file_sha256(path) != expected:
        raise WeightsError(f"{path}: damaged or changed since training (its SHA-256 is not the one in "
                           f"{SETTINGS_JSON}); train the model again, or restore the file")


def folder_names(folder) -> list[str] | None:
    """The landmark names the model folder was trained with (``None``: numbers only)."""
    return settings_names(read_settings(folder))


def settings_names(settings: dict) -> list[str] | None:
    """The landmark names a model folder's ``settings.json`` holds (``None``: numbers only)."""
    names = settings.get("landmark_names")
    return [str(n) for n in names] if isinstance(names, list) and names else None


def load_calibration(folder):
    """The folder's :class:`~beetles.core.calibration.Calibration`, or ``None``
    when it has none (trained without held-out specimens, or before 0.3)."""
    from beetles.core.calibration import CALIBRATION_JSON, Calibration

    path = Path(folder) / CALIBRATION_JSON
    return Calibration.read(path) if path.is_file() else None


def parent_record(parent) -> dict | None:
    """What ``settings.json`` says of the model folder a model was retrained
    from (``beetles train --from``; ``None``: trained from scratch)."""
    if parent is None:
        return None
    settings = read_settings(parent)
    return {"folder": str(Path(parent).resolve()), "model": settings.get("model"),
            "specimens": (settings.get("specimens") or {}).get("total"), "seconds": settings.get("seconds"),
            "parent": (settings.get("parent") or {}).get("folder"), "command": settings.get("command")}


def shared_scale(specimens) -> float | None:
    """The ``SCALE=`` every specimen has, when they all have the same one
    (``beetles predict`` writes it for photos given none); else ``None``."""
    scales = {s.scale for s in specimens}
    return scales.pop() if len(scales) == 1 and None not in scales else None


def settings_record(run, part, model, training, held_out, seconds: float, weights: Path) -> dict:
    """``settings.json``: ``run`` the :class:`beetles.tool.train.TrainSettings`,
    ``part`` the data, ``model`` the trained model, ``training`` and
    ``held_out`` the specimens each side, ``weights`` the weight file written
    (its SHA-256 is recorded)."""
    info = model.info
    return {
        "format": SETTINGS_FORMAT,
        "model": info.name,
        "weights_sha256": file_sha256(weights),
        "landmarks": int(part.n_landmarks),
        "landmark_names": part.landmark_names,
        "scale": shared_scale(part.specimens),
        "model_file": info.weights_file,
        **model.record(),
        "input": info.input,
        "photo_fitting": info.fitting,
        "network_size": [int(NETWORK.width), int(NETWORK.height)],
        "fine_scale": info.fine_scale,
        "uncertainty": info.uncertainty,
        "data": {"folder": None if run.data is None else str(Path(run.data).resolve()),
                 "landmarks": None if run.landmarks is None else
                 [str(Path(p).resolve()) for p in run.landmarks] if isinstance(run.landmarks, (list, tuple))
                 else str(Path(run.landmarks).resolve())},
        "specimens": {"total": len(part), "training": len(training), "validation": len(held_out),
                      "validation_fraction": run.validation, "seed": run.seed,
                      "training_names": [s.name for s in training],
                      "validation_names": [s.name for s in held_out]},
        "epochs": {"requested": run.epochs, "minutes": run.minutes, "done": len(model.history),
                   **({"note": f"the model trains its {', then its '.join(info.stages)}: every stage's epochs"}
                      if len(info.stages) > 1 else {})},
        "parent": parent_record(run.parent),
        "seconds": round(seconds, 1),
        "versions": stack_versions(),
        "command": run.command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
