"""R-CNN's region warp (rcnn_im_crop, "warp" mode), used for gt boxes and proposals (SPEC §4.3).

The box is grown so that, once warped to `size` x `size`, it carries `context_pad` pixels of
image context on every side (16 at 227 in R-CNN, scaled here for other input sizes). The part of
the grown box inside the image is resized (bilinear, no antialiasing: OpenCV, as Caffe's
WindowDataLayer does) into the matching part of the output; what falls outside the image is the
image mean, which is zero after mean subtraction.
"""

from __future__ import annotations

import cv2
import numpy as np


def scaled_context_pad(context_pad_227: int, size: int) -> int:
    """Context padding for an input of `size` pixels, keeping R-CNN's 16/227 proportion."""
    return int(round(context_pad_227 * size / 227))


def _matlab_round(x):
    """MATLAB's round (half away from zero), which rcnn_im_crop uses, not numpy's half-to-even."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def crop_geometry(box, width: int, height: int, size: int, pad: int):
    """Where the grown box falls in the image and in the output, as in rcnn_im_crop.

    `box` is (x1, y1, x2, y2) in 1-based inclusive pixels. Returns the clipped source box (same
    convention) and the output placement (pad_x, pad_y, out_w, out_h) in 0-based pixels.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = size / (size - 2 * pad)
    half_w, half_h = (x2 - x1 + 1) / 2, (y2 - y1 + 1) / 2
    cx, cy = x1 + half_w, y1 + half_h
    gx1, gy1, gx2, gy2 = _matlab_round(np.array([cx - half_w * scale, cy - half_h * scale,
                                                 cx + half_w * scale, cy + half_h * scale]))
    unclipped_w, unclipped_h = gx2 - gx1 + 1, gy2 - gy1 + 1
    pad_x, pad_y = max(0.0, 1 - gx1), max(0.0, 1 - gy1)
    cx1, cy1 = max(1.0, gx1), max(1.0, gy1)
    cx2, cy2 = min(float(width), gx2), min(float(height), gy2)
    sx, sy = size / unclipped_w, size / unclipped_h
    out_w = int(_matlab_round((cx2 - cx1 + 1) * sx))
    out_h = int(_matlab_round((cy2 - cy1 + 1) * sy))
    pad_x, pad_y = int(_matlab_round(pad_x * sx)), int(_matlab_round(pad_y * sy))
    out_w, out_h = min(out_w, size - pad_x), min(out_h, size - pad_y)
    return (int(cx1), int(cy1), int(cx2), int(cy2)), (pad_x, pad_y, max(out_w, 1), max(out_h, 1))


def warp_box(image: np.ndarray, box, size: int, context_pad: int, mean_rgb) -> np.ndarray:
    """Warp one box of an RGB uint8 image to a (size, size, 3) uint8 patch (R-CNN, SPEC §4.3).

    `context_pad` is in output pixels (use `scaled_context_pad` for R-CNN's 16-at-227 rule).
    """
    height, width = image.shape[:2]
    (x1, y1, x2, y2), (px, py, ow, oh) = crop_geometry(box, width, height, size, context_pad)
    out = np.empty((size, size, 3), np.uint8)
    out[:] = np.asarray(mean_rgb, np.float64).round().astype(np.uint8)
    region = image[y1 - 1:y2, x1 - 1:x2]
    out[py:py + oh, px:px + ow] = cv2.resize(region, (ow, oh), interpolation=cv2.INTER_LINEAR)
    return out


def crop_box(image: np.ndarray, box, size: int) -> np.ndarray:
    """The tight box, resized to (size, size, 3): the PatchSet's crop (seed 000), no context."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return cv2.resize(image[y1 - 1:y2, x1 - 1:x2], (size, size), interpolation=cv2.INTER_LINEAR)
