"""The model folder ``beetles train`` writes and ``beetles predict`` reads.

A model folder holds (all written atomically, ``settings.json`` last):

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

import json
import sys
from pathlib import Path

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import NETWORK
from beetles.core.versions import stack_versions
from beetles.registry import MODELS, load_model, model_info

SETTINGS_JSON = "settings.json"
#: The weight files of every registered model.
WEIGHT_FILES = tuple(dict.fromkeys(info.weights_file for info in MODELS.values()))
#: The files whose presence means a folder already holds a model.
MODEL_FILES = (*WEIGHT_FILES, SETTINGS_JSON)
#: The settings.json layout; a later layout bumps it.
SETTINGS_FORMAT = 1


def check_out(out: Path, force: bool) -> None:
    """Refuse an ``out`` that is a file, or that holds a model unless ``force``."""
    if out.exists() and not out.is_dir():
        raise BeetlesError(f"{out}: exists and is not a folder")
    present = [name for name in MODEL_FILES if (out / name).exists()]
    if present and not force:
        raise BeetlesError(f"{out}: already holds a model ({', '.join(present)}); use --force to replace it, "
                           "or choose another --out")


def read_settings(folder) -> dict:
    """``folder/settings.json``; a clear error when the folder is not a model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: model folder not found")
    path = folder / SETTINGS_JSON
    if not path.is_file():
        raise DataError(f"{folder}: not a model folder (no {SETTINGS_JSON}); train one with "
                        f"'beetles train --data DIR --out {folder}'")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(settings, dict):
        raise DataError(f"{path}: expected a JSON object")
    return settings


def load_folder(folder):
    """The trained :class:`~beetles.model.LandmarkModel` in ``folder`` (what
    ``beetles train`` wrote), with clear errors naming the file for a missing
    folder or file, or weights that do not fit the settings (another
    landmark count, another model)."""
    folder = Path(folder)
    settings = read_settings(folder)
    try:
        info = model_info(settings["model"])
        n_landmarks = int(settings["landmarks"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"{folder / SETTINGS_JSON}: no usable 'model' and 'landmarks' ({error})") from None
    return load_model(info, folder / info.weights_file, n_landmarks)


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


def remove_other_weights(out: Path, info) -> None:
    """Remove a weight file of another kind of model from ``out`` (after ``--force``)."""
    for name in WEIGHT_FILES:
        if name != info.weights_file and (out / name).exists():
            (out / name).unlink()


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


def settings_record(run, part, model, training, held_out, seconds: float) -> dict:
    """``settings.json``: ``run`` the :class:`beetles.tool.train.TrainSettings`,
    ``part`` the data, ``model`` the trained model, ``training`` and
    ``held_out`` the specimens each side."""
    info = model.info
    return {
        "format": SETTINGS_FORMAT,
        "model": info.name,
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
