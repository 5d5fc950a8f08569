"""Selective-search region proposals (R-CNN's, SPEC §4.3), with OpenCV contrib in fast mode.

Boxes are stored per split in HDF5: `boxes` (M, 4) int32 in 1-based inclusive VOC pixels
(x1, y1, x2, y2), the rows of image i being `boxes[offsets[i]:offsets[i + 1]]`, and `image_ids`.
"""

from __future__ import annotations

import ctypes
import zlib

import cv2
import h5py
import numpy as np

from layerwise.io import atomic_path

_LIBC = ctypes.CDLL(None)


# config data.proposals.strategy -> the OpenCV switch that selects it
STRATEGIES = {"fast": "switchToSelectiveSearchFast", "quality": "switchToSelectiveSearchQuality",
              "single": "switchToSingleStrategy"}


def selective_search(image_rgb: np.ndarray, max_boxes: int, min_size: int, seed: int,
                     strategy: str = "fast") -> np.ndarray:
    """Up to `max_boxes` proposals for one image, best-ranked first, as (K, 4) VOC boxes.

    strategy: OpenCV's "fast" mode (R-CNN's choice: two colour spaces, two segmentation
    scales, two merge strategies), "quality" (more of each), or "single" (one of each, about
    6x cheaper than fast). OpenCV ranks regions with C's rand(); seeding it per image makes the
    ranking a function of (seed, image) alone, whichever shard or process computes it.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"selective search strategy {strategy!r}: expected one of "
                         f"{list(STRATEGIES)}")
    _LIBC.srand(seed & 0x7FFFFFFF)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    getattr(ss, STRATEGIES[strategy])()
    rects = np.asarray(ss.process(), np.int64).reshape(-1, 4)  # x, y, w, h; 0-based
    rects = rects[(rects[:, 2] >= min_size) & (rects[:, 3] >= min_size)][:max_boxes]
    boxes = np.stack([rects[:, 0] + 1, rects[:, 1] + 1,
                      rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]], 1)
    return boxes.astype(np.int32)


def image_seed(seed: int, image_id: str) -> int:
    return zlib.crc32(f"{seed}:{image_id}".encode())


def shard(items: list, shards: int, k: int) -> list:
    """The k-th of `shards` contiguous image ranges."""
    bounds = np.linspace(0, len(items), shards + 1).round().astype(int)
    return items[bounds[k]:bounds[k + 1]]


def write_proposals(path, image_ids: list[str], boxes: list[np.ndarray], attrs: dict) -> None:
    """Write one proposals file atomically."""
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in boxes])]).astype(np.int64)
    stacked = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.int32)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("boxes", data=stacked.astype(np.int32).reshape(-1, 4))
        f.create_dataset("offsets", data=offsets)
        f.create_dataset("image_ids", data=np.array(image_ids, dtype=h5py.string_dtype()))
        f.attrs.update(attrs)


def read_proposals(path) -> tuple[list[str], list[np.ndarray], dict]:
    with h5py.File(path, "r") as f:
        ids = [s.decode() for s in f["image_ids"][:]]
        boxes, offsets = f["boxes"][:], f["offsets"][:]
        attrs = dict(f.attrs)
    return ids, [boxes[a:b] for a, b in zip(offsets[:-1], offsets[1:])], attrs


def merge_proposals(shard_paths, path) -> None:
    """Concatenate shard files, in shard order, into one split file."""
    ids, boxes, attrs = [], [], {}
    for p in shard_paths:
        i, b, attrs = read_proposals(p)
        ids += i
        boxes += b
    write_proposals(path, ids, boxes, attrs)
