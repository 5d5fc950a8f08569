"""Reading dataset images with errors that name the file and the config key (SPEC §15)."""

from __future__ import annotations

import cv2
import h5py
import numpy as np
from PIL import Image

from layerwise.data import bad_input
from layerwise.io import atomic_path


def load_image(path, key: str) -> np.ndarray:
    """Decode an image fully into RGB uint8; a truncated or unreadable file raises BadInput."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise bad_input(path, f"unreadable image ({e})", key) from None


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Warp to size x size ignoring the aspect ratio, as Caffe's ImageNet conversion does."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def pack_images(paths, size: int, key: str, progress=lambda x: x) -> np.ndarray:
    """Decode and resize every image into one (N, 3, size, size) uint8 array."""
    out = np.empty((len(paths), 3, size, size), np.uint8)
    for i, path in enumerate(progress(paths)):
        out[i] = resize_square(load_image(path, key), size).transpose(2, 0, 1)
    return out


def write_images(path, images: np.ndarray, labels: np.ndarray, attrs: dict) -> None:
    """An image pack: `images` (N, 3, S, S) uint8 chunked per sample, `labels` (N,)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("images", data=images, chunks=(1,) + images.shape[1:])
        f.create_dataset("labels", data=labels.astype(np.int64))
        f.attrs.update(attrs)


def read_images(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """An image pack in memory: uint8 (N, 3, S, S) images, labels and attributes."""
    with h5py.File(path, "r") as f:
        return f["images"][:], f["labels"][:], dict(f.attrs)
