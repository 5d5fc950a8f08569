"""Visualising units (seed 002: Zeiler & Fergus 2014, "Visualizing and Understanding
Convolutional Networks", Fig. 2 and Fig. 7).

- Top patches (their Fig. 2): for chosen units (channels) of a layer, the ground-truth box
  patches of VOC 2007 test that activate each one most. A patch's activation for a unit is the
  spatial max of that channel's map, the strongest response anywhere in the patch (for fc
  layers the single value).
- Occlusion sensitivity (their Fig. 7): a grey square slides over an image; for each position
  (b) the total activation of the pool5 map that responds most strongly to the unoccluded image
  and (d) the probability the classifier gives the true class. The grey is the pixel mean, so
  the occluded pixels are zero after `models.preprocess`.

The occlusion classifier is a VOC detection fine-tuned network (R-CNN, thesis §1.2): its 21-way
head (0 = background, then the 20 VOC classes) was trained on warped windows, which is what a
gt-box patch is, so its softmax over the 21 outputs is a true-class probability on exactly the
inputs it was fine-tuned for.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from layerwise.data.voc import VOC_CLASSES
from layerwise.models import preprocess

TOP = 9  # patches per unit, as in Zeiler & Fergus' Fig. 2


# --- top patches ---------------------------------------------------------------------------------

def unit_scores(features, unit):
    """One score per sample for channel `unit` of (N, C, H, W) features (numpy array or h5py
    dataset, read one channel at a time): the spatial max, as float32 (N,)."""
    channel = np.asarray(features[:, unit], dtype=np.float32)
    return channel.reshape(len(channel), -1).max(axis=1)


def top_activations(features, units, top=TOP):
    """The `top` samples that activate each unit most (seed 002, Zeiler & Fergus Fig. 2).

    features: (N, C, H, W) array or h5py dataset; units: channel indices. Returns (indices,
    scores), each (len(units), min(top, N)): sample rows by descending spatial-max activation,
    ties broken by the lower row, and those activations.
    """
    channels = features.shape[1]
    bad = [u for u in units if not 0 <= u < channels]
    if bad:
        raise ValueError(f"config key visualisation.units: {bad} are not channels of a layer "
                         f"with {channels}")
    indices, scores = [], []
    for unit in units:
        score = unit_scores(features, unit)
        order = np.argsort(-score, kind="stable")[:top]
        indices.append(order)
        scores.append(score[order])
    return np.array(indices).reshape(len(units), -1), np.array(scores).reshape(len(units), -1)


# --- occlusion ----------------------------------------------------------------------------------

def occluder_positions(size, square, stride):
    """Top-left corners (along one axis) of a `square` occluder slid with `stride` over an
    image of `size` pixels, last position flush with the far edge."""
    if not 0 < square <= size:
        raise ValueError(f"config key visualisation.occlusion.square: {square} must be in "
                         f"1..{size} (the input size)")
    starts = list(range(0, size - square + 1, stride))
    if starts[-1] != size - square:
        starts.append(size - square)
    return starts


def occluded_images(image, corners, square, grey):
    """Copies of uint8 (3, S, S) `image`, one per (y, x) in `corners`, with a `square` of
    colour `grey` (3 values) at that top-left corner: uint8 (len(corners), 3, S, S)."""
    out = image.unsqueeze(0).repeat(len(corners), 1, 1, 1)
    fill = torch.as_tensor(grey, dtype=torch.uint8).view(3, 1, 1)
    for k, (y, x) in enumerate(corners):
        out[k, :, y:y + square, x:x + square] = fill
    return out


@torch.no_grad()
def pool5_and_probabilities(model, images, pixel_mean, device="cpu"):
    """pool5 maps (N, C, H, W) and class probabilities (N, K) of uint8 images (the caller sets
    eval mode)."""
    keep = {model.tap_module["pool5"]: None}
    logits = model.walk(preprocess(images.to(device), pixel_mean), keep=keep)
    return keep[model.tap_module["pool5"]].cpu(), torch.softmax(logits, dim=1).cpu()


def class_probabilities(model, images, pixel_mean, batch_size=128, device="cpu"):
    """Softmax class probabilities (N, K) of uint8 (N, 3, S, S) images, `batch_size` at a time."""
    model.eval()
    return torch.cat([pool5_and_probabilities(model, torch.as_tensor(images[a:a + batch_size]),
                                              pixel_mean, device)[1]
                      for a in range(0, len(images), batch_size)])


def occlusion_maps(model, image, target, pixel_mean, square, stride, batch_size=64,
                   device="cpu"):
    """Occlusion sensitivity of one image (seed 002, Zeiler & Fergus Fig. 7 (b) and (d)).

    image: uint8 (3, S, S); target: the output index of its true class. Returns a dict:
    unit: the pool5 channel with the largest total activation on the unoccluded image;
    activation: (P, P) total activation of that channel with the grey square at each position
    (rows: square's top edge, columns: left edge, positions from `occluder_positions`);
    probability: (P, P) softmax probability of `target`; positions: the P corners per axis;
    clean_activation, clean_probability: the unoccluded values.
    """
    model.eval()
    grey = [int(round(v)) for v in pixel_mean]
    pool5, prob = pool5_and_probabilities(model, image.unsqueeze(0), pixel_mean, device)
    unit = int(pool5[0].sum(dim=(1, 2)).argmax())
    starts = occluder_positions(image.shape[-1], square, stride)
    corners = [(y, x) for y in starts for x in starts]
    activation, probability = [], []
    for a in range(0, len(corners), batch_size):
        batch = occluded_images(image, corners[a:a + batch_size], square, grey)
        maps, probs = pool5_and_probabilities(model, batch, pixel_mean, device)
        activation.append(maps[:, unit].sum(dim=(1, 2)))
        probability.append(probs[:, target])
    shape = (len(starts), len(starts))
    return {"unit": unit, "positions": starts,
            "activation": torch.cat(activation).reshape(shape).numpy(),
            "probability": torch.cat(probability).reshape(shape).numpy(),
            "clean_activation": float(pool5[0, unit].sum()),
            "clean_probability": float(prob[0, target])}


def confident_examples(probabilities, labels, count):
    """Rows of the `count` samples whose true class gets the highest probability, at most one
    per class, best first (the clear examples Zeiler & Fergus show). probabilities: (N, K) of a
    21-way detection head; labels: (N,) VOC class indices 0..19, so the true output is
    label + 1 (0 is background)."""
    labels = np.asarray(labels)
    true = np.asarray(probabilities)[np.arange(len(labels)), labels + 1]
    picked, seen = [], set()
    for row in np.argsort(-true, kind="stable"):
        if labels[row] not in seen:
            picked.append(int(row))
            seen.add(labels[row])
        if len(picked) == count:
            break
    return picked


# --- figures ------------------------------------------------------------------------------------

def _hwc(patch):
    return np.asarray(patch).transpose(1, 2, 0)


def top_patches_figure(patches, labels, units, indices, scores, title):
    """A grid: one row per unit, its top patches left to right, each captioned with the box's
    class and the activation. patches: uint8 (N, 3, S, S) array or h5py dataset."""
    rows, cols = indices.shape
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 0.6, 1.25 * rows + 0.6),
                             squeeze=False)
    for r, unit in enumerate(units):
        for c in range(cols):
            ax = axes[r, c]
            row = int(indices[r, c])
            ax.imshow(_hwc(patches[row]))
            ax.set_title(f"{VOC_CLASSES[labels[row]]} {scores[r, c]:.3g}", fontsize=6, pad=2)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(f"unit {unit}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return fig


def occlusion_figure(images, labels, results, square, title):
    """One row per image: (a) the image with the occluder drawn at its first position, (b) the
    strongest pool5 map's total activation and (d) the true-class probability, as functions
    of the occluder's position (each map cell centred on the centre of its square)."""
    fig, axes = plt.subplots(len(images), 3, figsize=(9, 2.8 * len(images) + 0.5),
                             squeeze=False)
    for r, (image, label, res) in enumerate(zip(images, labels, results)):
        size = image.shape[-1]
        a, b, d = axes[r]
        a.imshow(_hwc(image))
        a.add_patch(Rectangle((-0.5, -0.5), square, square, fill=False, edgecolor="white"))
        a.set_title(f"(a) {VOC_CLASSES[label]}", fontsize=8)
        centres = np.asarray(res["positions"]) + square / 2 - 0.5
        half = (centres[-1] - centres[0]) / (2 * (len(centres) - 1)) if len(centres) > 1 else 0.5
        lo, hi = centres[0] - half, centres[-1] + half
        extent = (lo, hi, hi, lo)
        for ax, key, name in ((b, "activation", f"(b) pool5 map {res['unit']} total"),
                              (d, "probability", f"(d) p({VOC_CLASSES[label]})")):
            im = ax.imshow(res[key], cmap="viridis", extent=extent)
            ax.set_xlim(-0.5, size - 0.5)
            ax.set_ylim(size - 0.5, -0.5)
            ax.set_title(f"{name}; clean {res['clean_' + key]:.3g}", fontsize=8)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig
