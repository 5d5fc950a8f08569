"""Figures shared by every analysis: one style, the thesis' colours, byte-stable PNG + PDF files."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # workflow jobs have no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from layerwise.io import atomic_path  # noqa: E402

# The thesis draws Alex-Net (ImageNet only) in blue and the fine-tuned net (FT) in red.
ALEXNET_COLOUR = "tab:blue"
FT_COLOUR = "tab:red"
NET_COLOURS = {"alexnet": ALEXNET_COLOUR, "ft": FT_COLOUR}

# No creation date or software version in the files: identical figure -> identical bytes.
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def set_style() -> None:
    """One plain seaborn look for every figure."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def save_figure(fig: plt.Figure, png_path: str | os.PathLike, dpi: int = 150) -> None:
    """Write `fig` to `png_path` and to the same name with `.pdf`, each atomically, then close it."""
    png_path = Path(png_path)
    if png_path.suffix != ".png":
        raise ValueError(f"figure path must end in .png: {png_path}")
    for fmt in ("png", "pdf"):
        with atomic_path(png_path.with_suffix(f".{fmt}")) as tmp:
            # The temporary name hides the extension, so the format is given explicitly.
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=_METADATA[fmt])
    plt.close(fig)
