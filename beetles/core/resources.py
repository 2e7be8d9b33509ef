"""Where beetles keeps what it makes for itself: the synthetic default dataset.

Inside a checkout of beetles (a folder with ``setup.py`` and ``data/``
beside the package) that is the checkout's ``data/``; in an installed
package it is the user's data folder (``platformdirs``: on Linux
``$XDG_DATA_HOME/beetles``, else ``~/.local/share/beetles``).  The
``BEETLES_DATA`` environment variable names another folder.  Results go
where the user says (``--out``), relative to the working folder.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that overrides :func:`data_dir`.
DATA_ENV = "BEETLES_DATA"


def checkout_root() -> Path | None:
    """The checkout this package runs from, or ``None`` when it is installed."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "setup.py").is_file() and (root / "data").is_dir() else None


def data_dir() -> Path:
    """The folder for beetles' own data (see the module docstring); not created here."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    root = checkout_root()
    if root is not None:
        return root / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir("beetles", appauthor=False))
