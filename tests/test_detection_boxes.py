"""VOC-convention IoU and R-CNN NMS against brute-force references and torchvision."""

import numpy as np
import pytest
import torch
from torchvision.ops import nms as tv_nms

from layerwise.detection.boxes import box_iou_voc, nms_per_class, nms_voc


def random_boxes(rng, n, size=40):
    x1 = rng.integers(1, size, n)
    y1 = rng.integers(1, size, n)
    return np.stack([x1, y1, x1 + rng.integers(0, 25, n), y1 + rng.integers(0, 25, n)], 1).astype(float)


def iou_brute(a, b):
    """VOCevaldet's overlap, pair by pair."""
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = min(p[2], q[2]) - max(p[0], q[0]) + 1
            ih = min(p[3], q[3]) - max(p[1], q[1]) + 1
            if iw > 0 and ih > 0:
                ua = (p[2] - p[0] + 1) * (p[3] - p[1] + 1) + (q[2] - q[0] + 1) * (q[3] - q[1] + 1) - iw * ih
                out[i, j] = iw * ih / ua
    return out


def nms_m(boxes, scores, overlap):
    """Line-by-line port of R-CNN's nms/nms.m (0-based indices)."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = list(np.argsort(scores, kind="stable"))
    pick = []
    while order:
        i, rest = order[-1], np.array(order[:-1], dtype=int)
        pick.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        o = inter / (area[i] + area[rest] - inter)
        order = list(rest[o <= overlap])
    return np.array(pick, dtype=np.int64)


@pytest.mark.parametrize("seed", range(5))
def test_iou_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    np.testing.assert_allclose(box_iou_voc(a, b), iou_brute(a, b), rtol=0, atol=1e-12)


def test_iou_hand_worked():
    gt = [[1, 1, 10, 10]]
    # 10x5 inside 10x10: 50 / 100 exactly (without +1 it would be 36 / 81).
    assert box_iou_voc([[1, 1, 10, 5]], gt)[0, 0] == 0.5
    # Sharing the single pixel (10, 10): 1 / (100 + 121 - 1).
    assert box_iou_voc([[10, 10, 20, 20]], gt)[0, 0] == pytest.approx(1 / 220, abs=1e-15)
    # Adjacent, no shared pixel.
    assert box_iou_voc([[11, 1, 20, 10]], gt)[0, 0] == 0.0
    # A one-pixel box is a box of area 1, not an empty one.
    assert box_iou_voc([[5, 5, 5, 5]], [[5, 5, 5, 5]])[0, 0] == 1.0
    assert box_iou_voc(np.zeros((0, 4)), gt).shape == (0, 1)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("thresh", [0.0, 0.3, 0.5, 0.7])
def test_nms_matches_rcnn_nms_m(seed, thresh):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 60, size=30)
    scores = rng.permutation(60) + rng.random(60) * 0.5  # distinct: no tie-breaking ambiguity
    np.testing.assert_array_equal(nms_voc(boxes, scores, thresh), nms_m(boxes, scores, thresh))


@pytest.mark.parametrize("seed", range(5))
def test_nms_equals_torchvision_on_shifted_boxes(seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 50)
    scores = rng.random(50)
    shifted = torch.as_tensor(boxes + np.array([0, 0, 1, 1]))
    expected = tv_nms(shifted, torch.as_tensor(scores), 0.3).numpy()
    np.testing.assert_array_equal(nms_voc(boxes, scores, 0.3), expected)


def test_nms_plus_one_convention_matters():
    # 10x10 and 10x6 boxes sharing 10x4 pixels. VOC: 40 / (100 + 60 - 40) = 1/3 > 0.3, so
    # nms.m suppresses the second; continuous: 27 / (81 + 45 - 27) = 0.27, torchvision keeps it.
    boxes = np.array([[1, 1, 10, 10], [1, 7, 10, 12]], dtype=float)
    scores = np.array([0.9, 0.8])
    assert box_iou_voc(boxes[:1], boxes[1:])[0, 0] == pytest.approx(1 / 3)
    np.testing.assert_array_equal(nms_voc(boxes, scores, 0.3), [0])
    raw = tv_nms(torch.as_tensor(boxes), torch.as_tensor(scores), 0.3).numpy()
    np.testing.assert_array_equal(raw, [0, 1])


def test_nms_keeps_iou_equal_to_threshold():
    # IoU exactly 0.5: nms.m keeps o <= overlap.
    boxes = np.array([[1, 1, 10, 10], [1, 1, 10, 5]], dtype=float)
    np.testing.assert_array_equal(nms_voc(boxes, [2.0, 1.0], 0.5), [0, 1])
    np.testing.assert_array_equal(nms_voc(boxes, [2.0, 1.0], 0.49), [0])


def test_nms_per_class_runs_each_column():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 40, size=25)
    scores = rng.random((40, 3))
    rows, cls = nms_per_class(boxes, scores, 0.3)
    assert (np.diff(cls) >= 0).all()  # class by class
    for k in range(3):
        np.testing.assert_array_equal(rows[cls == k], nms_m(boxes, scores[:, k], 0.3))
    assert nms_voc(np.zeros((0, 4)), np.zeros(0), 0.3).shape == (0,)


@pytest.mark.parametrize("seed", range(5))
def test_nms_per_class_top_then_nms_equals_a_loop_over_classes(seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 50, size=25)
    boxes[7] = boxes[3]  # a duplicate proposal: identical scores in every class
    scores = rng.random((50, 4))
    scores[7] = scores[3]
    rows, cls = nms_per_class(boxes, scores, 0.3, top=20)
    assert (np.diff(cls) >= 0).all()
    for k in range(4):
        top = np.argsort(-scores[:, k], kind="stable")[:20]
        want = top[nms_m(boxes[top], scores[top, k], 0.3)]
        # Of two identical boxes either may be kept: compare the boxes and scores kept.
        np.testing.assert_array_equal(boxes[rows[cls == k]], boxes[want])
        np.testing.assert_array_equal(scores[rows[cls == k], k], scores[want, k])
    rows, cls = nms_per_class(np.zeros((0, 4)), np.zeros((0, 3)), 0.3)
    assert rows.shape == cls.shape == (0,)
