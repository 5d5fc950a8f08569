"""Figures shared by every analysis: one style, the thesis' colours, byte-stable PNG + PDF files."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # workflow jobs have no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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


def save_figure(fig: plt.Figure, png_path: str | os.PathLike, dpi: int = 150,
                tight: bool = True) -> None:
    """Write `fig` to `png_path` and to the same name with `.pdf`, each atomically, then close it.

    `tight` trims the margins to the drawn content, at the cost of one more drawing pass: figures
    with many panels lay themselves out (`fig.subplots_adjust`) and pass False.
    """
    png_path = Path(png_path)
    if png_path.suffix != ".png":
        raise ValueError(f"figure path must end in .png: {png_path}")
    for fmt in ("png", "pdf"):
        with atomic_path(png_path.with_suffix(f".{fmt}")) as tmp:
            # The temporary name hides the extension, so the format is given explicitly.
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight" if tight else None,
                        metadata=_METADATA[fmt])
    plt.close(fig)


# --- the figures of chapters 2-4 -------------------------------------------------------------

def _class_grid(n_classes, title):
    """A 4 x 5 grid of small panels, one per VOC class (Figs 3-1, 3-2, 3-4).

    Laid out by hand: constrained layout and tight bounding boxes measure every tick label of
    every panel, which takes most of the drawing time of these figures.
    """
    cols = 5
    rows = -(-n_classes // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows + 1), squeeze=False,
                             sharex=True, sharey=True)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.07, top=0.9, wspace=0.08, hspace=0.25)
    for ax in axes.flat[n_classes:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, axes.flat[:n_classes]


def _net_legend(fig, nets):
    handles = [plt.Line2D([], [], color=NET_COLOURS[n], label=n) for n in nets]
    fig.legend(handles=handles, loc="upper right", ncols=len(nets), frameon=False)


def aue_histograms(aue, layers, methods, title):
    """Fig 2-1: histograms of the AuE of every filter, per layer (columns) and entropy method
    (rows), alexnet and ft overlaid. ``aue[net][layer]`` is a DataFrame of the entropy CSV."""
    fig, axes = plt.subplots(len(methods), len(layers), squeeze=False,
                             figsize=(2.4 * len(layers), 2.2 * len(methods) + 0.8))
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.12, top=0.85, wspace=0.3, hspace=0.3)
    for i, (column, method) in enumerate(methods.items()):
        for j, layer in enumerate(layers):
            ax = axes[i, j]
            values = [aue[net][layer][column] for net in aue]
            bins = np.histogram_bin_edges(np.concatenate(values), bins=20)
            for net, v in zip(aue, values):
                ax.hist(v, bins=bins, color=NET_COLOURS[net], alpha=0.5)
            ax.set_title(layer if i == 0 else "")
            ax.set_xlabel("AuE (bits)" if i == len(methods) - 1 else "")
            ax.set_ylabel(f"{method}\nfilters" if j == 0 else "")
    _net_legend(fig, list(aue))
    fig.suptitle(title)
    return fig


def mcaue_curves(mcaue, layers, methods, title):
    """Fig 2-2: MCAuE against the fraction of filters, one panel per entropy method; a colour per
    layer, dash-dot alexnet and solid ft as in the thesis. ``mcaue[net][layer][column]`` is the
    MCAuE curve (F,) of that method."""
    colours = dict(zip(layers, sns.color_palette("viridis", len(layers))))
    fig, axes = plt.subplots(len(methods), 1, figsize=(6.5, 3.2 * len(methods)), sharex=True,
                             layout="constrained")
    styles = {"alexnet": "-.", "ft": "-"}
    for ax, (column, method) in zip(np.atleast_1d(axes), methods.items()):
        for layer in layers:
            for net in mcaue:
                curve = mcaue[net][layer][column]
                fraction = np.arange(1, len(curve) + 1) / len(curve)
                ax.plot(fraction, curve, styles[net], color=colours[layer])
        ax.set_title(method)
        ax.set_ylabel("MCAuE (bits)")
    ax.set_xlabel("fraction of filters (most selective first)")
    handles = [plt.Line2D([], [], color=colours[layer], label=layer) for layer in layers]
    handles += [plt.Line2D([], [], color="grey", linestyle=styles[n], label=n) for n in mcaue]
    fig.legend(handles=handles, loc="outside right center")
    fig.suptitle(title)
    return fig


def precision_grid(curves, class_names, title):
    """Fig 3-1: precision against the number of boxes above threshold, the most selective filters
    of each class. ``curves[net]`` = (n_above (K, n, T), precision (K, n, T))."""
    fig, axes = _class_grid(len(class_names), title)
    for c, ax in enumerate(axes):
        for net, (n_above, precision) in curves.items():
            for x, y in zip(n_above[c], precision[c]):
                ax.plot(x, y, color=NET_COLOURS[net], lw=1, alpha=0.8)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_title(class_names[c])
    fig.supxlabel("number of examples with activation >= threshold")
    fig.supylabel("precision")
    _net_legend(fig, list(curves))
    return fig


def pr_grid(curves, class_names, title):
    """Fig 3-2: precision-recall curves of the best single filters of each class.
    ``curves[net][c]`` is a list of (recall, precision) arrays."""
    fig, axes = _class_grid(len(class_names), title)
    for c, ax in enumerate(axes):
        for net, per_class in curves.items():
            for recall, precision in per_class[c]:
                ax.plot(recall, precision, color=NET_COLOURS[net], lw=1, alpha=0.8)
        ax.set_title(class_names[c])
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", "", "0.5", "", "1"])
    fig.supxlabel("recall")
    fig.supylabel("precision")
    _net_legend(fig, list(curves))
    return fig


def subset_ap_grid(subsets, class_names, title):
    """Fig 3-4: test AP against the number of filters in the greedy subset, per class.
    ``subsets[net]`` = (ks, aps (K, len(ks)) in percent)."""
    fig, axes = _class_grid(len(class_names), title)
    for c, ax in enumerate(axes):
        for net, (ks, aps) in subsets.items():
            ax.plot(ks, aps[c], "o-", color=NET_COLOURS[net], ms=2.5, lw=1)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks([k for k in (1, 3, 10, 30, 100, 256) if k <= max(ks)] + [max(ks)])
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_title(class_names[c])
    fig.supxlabel("number of filters (top k by |SVM weight|)")
    fig.supylabel("AP (%)")
    _net_legend(fig, list(subsets))
    return fig


def overlap_heatmap(overlap, class_names, title):
    """Fig 3-5: entry (i, j) = fraction of class i's top filters also among class j's."""
    fig, ax = plt.subplots(figsize=(8.5, 7), layout="constrained")
    sns.heatmap(overlap, vmin=0, vmax=1, cmap="viridis", square=True, ax=ax,
                xticklabels=class_names, yticklabels=class_names,
                cbar_kws={"label": "fraction of row class's filters shared"})
    ax.set_title(title)
    return fig


def filter_grid(weights):
    """Conv filters (F, 3, k, k) tiled as one RGB image, each filter stretched to [0, 1] on its
    own (so weak and strong filters are equally visible), one pixel of white between tiles."""
    w = np.asarray(weights, dtype=np.float64)
    n, _, k, _ = w.shape
    low = w.min(axis=(1, 2, 3), keepdims=True)
    span = w.max(axis=(1, 2, 3), keepdims=True) - low
    w = np.divide(w - low, span, out=np.full_like(w, 0.5), where=span > 0)
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    grid = np.ones((rows * (k + 1) + 1, cols * (k + 1) + 1, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        grid[1 + r * (k + 1): (r + 1) * (k + 1), 1 + c * (k + 1): (c + 1) * (k + 1)] = \
            w[i].transpose(1, 2, 0)
    return grid


def training_dynamics(filters, curve, title):
    """Fig 4-1: conv1 filters at a few snapshots (top row), training loss and validation top-1
    against iteration (bottom row). ``filters`` maps iteration -> (F, 3, k, k) weights;
    ``curve`` has columns iteration, loss, val_top1 (blank between evaluations)."""
    n = len(filters)
    fig = plt.figure(figsize=(4 * max(n, 2), 7.5), layout="constrained")
    grid = fig.add_gridspec(2, 2 * n)
    for i, (iteration, weights) in enumerate(filters.items()):
        ax = fig.add_subplot(grid[0, 2 * i: 2 * i + 2])
        ax.imshow(filter_grid(weights), interpolation="nearest")
        ax.set_title(f"conv1, iteration {iteration}")
        ax.axis("off")
    loss = curve.dropna(subset=["loss"])
    top1 = curve.dropna(subset=["val_top1"])
    ax = fig.add_subplot(grid[1, :n])
    ax.plot(loss["iteration"], loss["loss"], color=ALEXNET_COLOUR)
    ax.set(xlabel="iteration", ylabel="training loss")
    ax = fig.add_subplot(grid[1, n:])
    ax.plot(top1["iteration"], top1["val_top1"], "o-", color=ALEXNET_COLOUR)
    ax.set(xlabel="iteration", ylabel="validation top-1 (%)")
    fig.suptitle(title)
    return fig
