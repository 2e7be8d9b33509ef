"""Versions of Python and of the libraries that compute beetles' results.

One list (:data:`STACK`) for every report: ``run.json`` and ``settings.json``
record :func:`stack_versions`; ``beetles info`` prints it with Theano's
configuration (:func:`beetles.paper.compat.stack_report`).
"""
from __future__ import annotations

import platform
from importlib import metadata

#: The distributions whose versions are reported, in this order.
STACK = ("numpy", "scipy", "scikit-learn", "pillow", "matplotlib", "theano", "lasagne", "nolearn", "tqdm", "torch")


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or ``None``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def stack_versions() -> dict[str, str | None]:
    """``{"python": …, "beetles": …, "numpy": …, …}``: ``None`` for what is not installed."""
    from beetles import __version__

    return {"python": platform.python_version(), "beetles": __version__,
            **{name: package_version(name) for name in STACK}}
