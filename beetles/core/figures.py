"""matplotlib without a screen: the Agg backend, and figures saved atomically as PNG."""
from __future__ import annotations

import io
from pathlib import Path

from beetles.core.files import write_bytes


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path) -> Path:
    """Write ``figure`` to ``path`` as PNG (120 dpi, tight box), atomically, and close it."""
    plt = pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return write_bytes(path, buffer.getvalue())
