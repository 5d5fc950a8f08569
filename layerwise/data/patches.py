"""Ground-truth box patches and the PatchSet, cached as uint8 HDF5 (SPEC §4.3).

Both hold `patches` (N, 3, S, S) uint8 RGB, `labels` (N,) class indices 0..19 in devkit order,
`image_ids`, `boxes` (N, 4) 1-based VOC pixels, `difficult` and `truncated`.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from layerwise import hdf5
from layerwise.data.images import load_image
from layerwise.data.voc import ROOT_KEY, VOC_CLASSES, image_path
from layerwise.data.warp import crop_box, scaled_context_pad, warp_box
from layerwise.io import atomic_path


def select_gtboxes(index: pd.DataFrame, include_difficult: bool) -> pd.DataFrame:
    """The boxes a gt-box file holds: every object, less the difficult ones (thesis §2.4)."""
    return index if include_difficult else index[index["difficult"] == 0]


def select_patchset(index: pd.DataFrame, min_size: int) -> pd.DataFrame:
    """Seed 000's PatchSet: non-difficult objects at least `min_size` wide and high."""
    w, h = index["x2"] - index["x1"] + 1, index["y2"] - index["y1"] + 1
    return index[(index["difficult"] == 0) & (w >= min_size) & (h >= min_size)]


def extract_patches(objects: pd.DataFrame, voc_root, cut, size: int, progress=lambda x: x
                    ) -> np.ndarray:
    """Apply `cut(image, box)` to every object in row order, decoding each image once."""
    patches, image_id, image = [], None, None
    for row in progress(objects[["image_id", "x1", "y1", "x2", "y2"]].itertuples(index=False)):
        if row.image_id != image_id:
            image_id, image = row.image_id, load_image(image_path(voc_root, row.image_id), ROOT_KEY)
        patches.append(cut(image, row[1:]).transpose(2, 0, 1))
    return np.stack(patches) if patches else np.zeros((0, 3, size, size), np.uint8)


def gtbox_patches(objects: pd.DataFrame, voc_root, size: int, context_pad: int, mean_rgb,
                  progress=lambda x: x) -> np.ndarray:
    """R-CNN warps of the given boxes (context scaled from 16-at-227 to `size`)."""
    pad = scaled_context_pad(context_pad, size)
    return extract_patches(objects, voc_root,
                           lambda im, box: warp_box(im, box, size, pad, mean_rgb), size,
                           progress)


def patchset_patches(objects: pd.DataFrame, voc_root, size: int, progress=lambda x: x):
    return extract_patches(objects, voc_root, lambda im, box: crop_box(im, box, size), size,
                           progress)


def write_patches(path, objects: pd.DataFrame, patches: np.ndarray, attrs: dict) -> None:
    """Write a patch file atomically; `patches[i]` is the patch of `objects.iloc[i]`."""
    chunk = (max(1, min(64, len(patches))),) + patches.shape[1:]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("patches", data=patches, chunks=chunk if len(patches) else None,
                         **(hdf5.filters() if len(patches) else {}))
        f.create_dataset("labels", data=objects["class"].map(VOC_CLASSES.index).to_numpy(np.int64))
        f.create_dataset("image_ids", data=objects["image_id"].to_numpy(dtype=object),
                         dtype=h5py.string_dtype())
        f.create_dataset("boxes", data=objects[["x1", "y1", "x2", "y2"]].to_numpy(np.int32))
        f.create_dataset("difficult", data=objects["difficult"].to_numpy(np.uint8))
        f.create_dataset("truncated", data=objects["truncated"].to_numpy(np.uint8))
        f.attrs.update(attrs)
