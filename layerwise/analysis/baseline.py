"""How hard a dataset is before any learning: linear SVMs on raw, downsampled pixels.

A gauge of the demo world's difficulty (issue 2): well below 100 mAP, so that the thesis'
tables (§2.4, §4, §5) have room to show what learnt features add.
"""

from __future__ import annotations

import cv2
import numpy as np


def downsampled_pixels(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 (N, 3, H, W) images -> float32 (N, 3, side, side) in [0, 1], area-averaged."""
    out = np.empty((len(images), 3, side, side), np.float32)
    for i, image in enumerate(images):
        small = cv2.resize(image.transpose(1, 2, 0), (side, side), interpolation=cv2.INTER_AREA)
        out[i] = small.transpose(2, 0, 1) / 255.0
    return out
