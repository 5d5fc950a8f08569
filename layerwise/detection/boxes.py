"""Box overlap and non-maximum suppression in VOC pixel coordinates (R-CNN, SPEC §9).

Boxes are (x1, y1, x2, y2) in 1-based inclusive pixel coordinates, as in the VOC devkit
annotations, so a box covering pixels 1..10 has width x2 - x1 + 1 = 10. torchvision's
box operations treat boxes as continuous intervals (width x2 - x1); shifting x2 and y2
by +1 makes them agree with the devkit's VOCevaldet and R-CNN's nms.m.
"""

import numpy as np
import torch
from torchvision.ops import batched_nms, box_iou, nms


def _to_continuous(boxes):
    """VOC inclusive boxes -> float64 tensor of half-open boxes (x2, y2 shifted by +1)."""
    t = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    # float64 keeps hand-made IoUs such as 50/100 exact, which VOC's `ovmax >= 0.5` test needs.
    return torch.cat([t[:, :2], t[:, 2:] + 1.0], dim=1)


def box_iou_voc(a, b):
    """IoU matrix (len(a), len(b)) with the VOC +1 pixel convention (devkit VOCevaldet).

    a, b: arrays (N, 4) and (M, 4) of (x1, y1, x2, y2) 1-based inclusive boxes.
    Returns a float64 numpy array; boxes that do not overlap have IoU 0.
    """
    return box_iou(_to_continuous(a), _to_continuous(b)).numpy()


def nms_voc(boxes, scores, iou):
    """Greedy NMS of R-CNN's nms.m: indices kept, highest score first.

    A box is suppressed when its +1-convention IoU with a kept, higher-scoring box is
    strictly greater than `iou` (nms.m keeps `o <= overlap`, as torchvision keeps
    IoU <= threshold).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        return np.zeros(0, dtype=np.int64)
    keep = nms(_to_continuous(boxes), torch.as_tensor(scores), float(iou))
    return keep.numpy().astype(np.int64)


def nms_per_class(boxes, scores, iou, top=None):
    """Per-class NMS (R-CNN test time): the kept rows of every class, as flat arrays.

    boxes: (M, 4) VOC boxes shared by all classes (the region proposals of one image).
    scores: (M, K) class scores, or (M,) for a single class. top: each class first keeps
    only its `top` best-scoring rows (rcnn_test's 100 per image; ties go to the earlier row,
    as MATLAB's stable sort does). Every class's NMS (`nms_voc`'s rule) runs in one
    `batched_nms` call, which keeps classes apart, instead of one call per class.
    Returns (rows, classes): int64 arrays of kept row indices and their class columns, class
    by class, each class by decreasing score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    tops = [np.argsort(-scores[:, k], kind="stable")[:top] for k in range(scores.shape[1])]
    rows = np.concatenate(tops).astype(np.int64)
    cls = np.repeat(np.arange(len(tops)), [len(t) for t in tops])
    if rows.size == 0:
        return rows, cls
    keep = batched_nms(_to_continuous(np.asarray(boxes)[rows]),
                       torch.as_tensor(scores[rows, cls]), torch.as_tensor(cls), float(iou))
    keep = keep.numpy()
    # batched_nms orders all classes by score together: a stable sort by class keeps that
    # order within each class.
    keep = keep[np.argsort(cls[keep], kind="stable")]
    return rows[keep], cls[keep]
