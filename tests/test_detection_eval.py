"""R-CNN test-time detections and VOC2007 detection AP (VOCevaldet), hand-worked and brute force."""

import numpy as np
import pandas as pd
import pytest

from layerwise.detection.evaluate import DETECTION_COLUMNS, detect, voc07_detection_ap, voc07_detection_pr
from brute_force import iou_voc as _iou

GT_BOX = (1, 1, 10, 10)


def gt_table(rows):
    """rows of (image_id, class, box, difficult)."""
    return pd.DataFrame([(i, c, *b, d) for i, c, b, d in rows],
                        columns=["image_id", "class", "x1", "y1", "x2", "y2", "difficult"])


def det_table(rows):
    """rows of (image_id, class, score, box)."""
    return pd.DataFrame([(i, c, s, *b) for i, c, s, b in rows], columns=DETECTION_COLUMNS)


# ---------------------------------------------------------------- hand-worked APs

def test_difficult_object_is_ignored():
    gt = gt_table([("a", "cat", GT_BOX, 0), ("a", "cat", (50, 50, 60, 60), 1)])
    det = det_table([("a", "cat", 0.9, (50, 50, 60, 60)),   # the difficult one: ignored
                     ("a", "cat", 0.8, GT_BOX),             # tp
                     ("a", "cat", 0.7, (80, 80, 90, 90))])  # fp
    recall, precision, npos = voc07_detection_pr(det, gt, "cat")
    assert npos == 1
    np.testing.assert_allclose(recall, [1, 1])
    np.testing.assert_allclose(precision, [1, 0.5])
    # counted as a false positive instead, the AP would be 0.5
    assert voc07_detection_ap(det, gt, "cat") == pytest.approx(1.0)


def test_duplicate_detections_are_false_positives():
    gt = gt_table([("a", "cat", GT_BOX, 0), ("b", "cat", GT_BOX, 0)])
    det = det_table([("a", "cat", 0.9, GT_BOX),          # tp
                     ("a", "cat", 0.8, (1, 1, 10, 9)),   # IoU 0.9 with the same object: fp
                     ("b", "cat", 0.7, GT_BOX)])         # tp
    recall, precision, _ = voc07_detection_pr(det, gt, "cat")
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3])
    # t = 0 .. 0.5: max precision 1 (6 points); t = 0.6 .. 1: 2/3 (5 points)
    assert voc07_detection_ap(det, gt, "cat") == pytest.approx((6 + 5 * 2 / 3) / 11)


def test_iou_exactly_half_counts():
    gt = gt_table([("a", "cat", GT_BOX, 0), ("b", "cat", GT_BOX, 0)])
    # 10x5 of a 10x10 object: VOC IoU 50/100 = 0.5 exactly (36/81 without the +1 convention)
    half = det_table([("a", "cat", 0.9, (1, 1, 10, 5))])
    assert voc07_detection_pr(half, gt, "cat")[0].tolist() == [0.5]
    # 10x4: 0.4, a false positive
    below = det_table([("a", "cat", 0.9, (1, 1, 10, 4))])
    assert voc07_detection_pr(below, gt, "cat")[0].tolist() == [0.0]


def test_class_without_detections_has_ap_zero():
    gt = gt_table([("a", "cat", GT_BOX, 0), ("a", "dog", GT_BOX, 0)])
    det = det_table([("a", "dog", 0.9, GT_BOX)])
    assert voc07_detection_ap(det, gt, "cat") == 0.0
    assert voc07_detection_ap(det, gt, "dog") == 1.0
    assert voc07_detection_ap(det_table([]), gt, "cat") == 0.0


def test_detections_on_image_without_the_class_are_false_positives():
    gt = gt_table([("a", "cat", GT_BOX, 0), ("c", "dog", GT_BOX, 0)])
    det = det_table([("c", "cat", 0.9, GT_BOX),    # image c has a dog, no cat: fp
                     ("d", "cat", 0.8, GT_BOX),    # image d has no objects at all: fp
                     ("a", "cat", 0.5, GT_BOX)])   # tp
    recall, precision, _ = voc07_detection_pr(det, gt, "cat")
    np.testing.assert_allclose(recall, [0, 0, 1])
    np.testing.assert_allclose(precision, [0, 0, 1 / 3])
    assert voc07_detection_ap(det, gt, "cat") == pytest.approx(1 / 3)
    assert voc07_detection_ap(det, gt, "cat", image_ids=["a", "c", "d"]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="outside the test set"):
        voc07_detection_ap(det, gt, "cat", image_ids=["a", "c"])


def test_match_goes_to_max_overlap_even_if_already_detected():
    # The second detection overlaps object 1 (IoU 1) and object 2 (IoU 80/120); the devkit
    # matches it to object 1 only, already detected, so it is a false positive.
    gt = gt_table([("a", "cat", GT_BOX, 0), ("a", "cat", (3, 1, 12, 10), 0)])
    det = det_table([("a", "cat", 0.9, GT_BOX), ("a", "cat", 0.8, GT_BOX)])
    recall, precision, _ = voc07_detection_pr(det, gt, "cat")
    np.testing.assert_allclose(recall, [0.5, 0.5])
    assert voc07_detection_ap(det, gt, "cat") == pytest.approx(6 / 11)


def test_tied_scores_keep_input_order():
    gt = gt_table([("a", "cat", GT_BOX, 0)])
    fp, tp = ("a", "cat", 0.5, (40, 40, 50, 50)), ("a", "cat", 0.5, GT_BOX)
    assert voc07_detection_ap(det_table([fp, tp]), gt, "cat") == pytest.approx(0.5)
    assert voc07_detection_ap(det_table([tp, fp]), gt, "cat") == pytest.approx(1.0)


def test_class_without_positives_raises():
    gt = gt_table([("a", "cat", GT_BOX, 1), ("a", "dog", GT_BOX, 0)])
    det = det_table([("a", "cat", 0.9, GT_BOX)])
    with pytest.raises(ValueError, match="'cat' has no non-difficult"):
        voc07_detection_ap(det, gt, "cat")
    with pytest.raises(ValueError, match="'bird'"):
        voc07_detection_ap(det, gt, "bird")


# ---------------------------------------------------------------- brute force: VOCevaldet

def vocevaldet(det, gt, cls, minoverlap=0.5):
    """Line-by-line port of VOCevaldet.m (VOC2007) with MATLAB's NaN-skipping max."""
    gt = gt[gt["class"] == cls]
    objs = {}
    for img, g in gt.groupby("image_id"):
        objs[img] = dict(BB=g[["x1", "y1", "x2", "y2"]].to_numpy(float),
                         diff=g["difficult"].to_numpy().astype(bool), det=np.zeros(len(g), bool))
    npos = sum(int((~o["diff"]).sum()) for o in objs.values())
    det = det[det["class"] == cls]
    si = np.argsort(-det["score"].to_numpy(), kind="stable")
    ids = det["image_id"].to_numpy()[si]
    BB = det[["x1", "y1", "x2", "y2"]].to_numpy(float)[si]
    nd = len(si)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        o = objs.get(ids[d], dict(BB=np.zeros((0, 4)), diff=[], det=[]))
        bb, ovmax, jmax = BB[d], -np.inf, -1
        for j, bbgt in enumerate(o["BB"]):
            bi = [max(bb[0], bbgt[0]), max(bb[1], bbgt[1]), min(bb[2], bbgt[2]), min(bb[3], bbgt[3])]
            iw, ih = bi[2] - bi[0] + 1, bi[3] - bi[1] + 1
            if iw > 0 and ih > 0:
                ua = ((bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1)
                      + (bbgt[2] - bbgt[0] + 1) * (bbgt[3] - bbgt[1] + 1) - iw * ih)
                ov = iw * ih / ua
                if ov > ovmax:
                    ovmax, jmax = ov, j
        if ovmax >= minoverlap:
            if not o["diff"][jmax]:
                if not o["det"][jmax]:
                    tp[d] = 1
                    o["det"][jmax] = True
                else:
                    fp[d] = 1
        else:
            fp[d] = 1
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / npos
    with np.errstate(invalid="ignore"):
        prec = tp / (fp + tp)
    ap = 0.0
    for t in np.arange(11) / 10:
        p = prec[(rec >= t) & ~np.isnan(prec)]
        ap += (p.max() if p.size else 0.0) / 11
    return ap


def random_scene(seed, n_images=12, classes=("cat", "dog", "car")):
    rng = np.random.default_rng(seed)
    gt_rows, det_rows = [], []
    for i in range(n_images):
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.integers(1, 40, 2)
            box = (x, y, x + rng.integers(4, 20), y + rng.integers(4, 20))
            gt_rows.append((i, classes[rng.integers(len(classes))], box, int(rng.random() < 0.25)))
            for _ in range(int(rng.integers(0, 4))):  # jittered detections near the object
                jit = rng.integers(-3, 4, 4)
                det_rows.append((i, classes[rng.integers(len(classes))],
                                 float(rng.integers(0, 20)) / 4,  # coarse scores: ties happen
                                 tuple(np.array(box) + jit)))
        for _ in range(int(rng.integers(0, 3))):  # background detections
            x, y = rng.integers(1, 50, 2)
            det_rows.append((i, classes[rng.integers(len(classes))], float(rng.integers(0, 20)) / 4,
                             (x, y, x + 8, y + 8)))
    return det_table(det_rows), gt_table(gt_rows)


@pytest.mark.parametrize("seed", range(8))
def test_ap_matches_vocevaldet_port(seed):
    det, gt = random_scene(seed)
    for cls in ("cat", "dog", "car"):
        if (gt[gt["class"] == cls]["difficult"] == 0).any():
            assert voc07_detection_ap(det, gt, cls) == pytest.approx(vocevaldet(det, gt, cls), abs=1e-12)


# ---------------------------------------------------------------- detect

def greedy_nms(boxes, scores, thresh):
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    for i in order:
        if all(_iou(boxes[i], boxes[j]) <= thresh for j in keep):
            keep.append(i)
    return keep


def test_detect_matches_top_k_then_greedy_nms():
    rng = np.random.default_rng(0)
    xy = rng.integers(1, 40, (60, 2))
    boxes = np.concatenate([xy, xy + rng.integers(3, 25, (60, 2))], 1).astype(float)
    scores = rng.normal(size=(60, 3))
    out = detect(scores, boxes, nms_iou=0.3, max_per_image=25, image_id="000007",
                 classes=["cat", "dog", "car"])
    assert list(out.columns) == DETECTION_COLUMNS
    assert (out["image_id"] == "000007").all()
    for k, name in enumerate(["cat", "dog", "car"]):
        top = np.argsort(-scores[:, k])[:25]
        keep = top[greedy_nms(boxes[top], scores[top, k], 0.3)]
        rows = out[out["class"] == name]
        np.testing.assert_array_equal(rows[["x1", "y1", "x2", "y2"]].to_numpy(), boxes[keep])
        np.testing.assert_array_equal(rows["score"].to_numpy(), scores[keep, k])


def test_detect_caps_boxes_per_image_before_nms():
    # 101 disjoint boxes: NMS removes none, so only the cap decides which survive
    boxes = np.array([[1 + 20 * i, 1, 10 + 20 * i, 10] for i in range(101)], float)
    scores = np.arange(101, dtype=float)[:, None]
    out = detect(scores, boxes)
    assert len(out) == 100 and 0.0 not in out["score"].to_numpy()
    assert len(detect(scores, boxes, max_per_image=None)) == 101
    assert out["class"].unique().tolist() == [0]


def test_detect_then_evaluate_round_trip():
    # a perfect detector for one object and a suppressed duplicate: AP 1
    boxes = np.array([GT_BOX, (1, 1, 10, 9), (30, 30, 40, 40)], float)
    scores = np.array([[3.0], [2.0], [-1.0]])
    det = detect(scores, boxes, image_id="a", classes=["cat"])
    assert len(det) == 2  # the IoU-0.9 duplicate is gone
    gt = gt_table([("a", "cat", GT_BOX, 0)])
    assert voc07_detection_ap(det, gt, "cat") == 1.0


def test_detection_touching_no_object_never_matches():
    # VOCevaldet only scores objects sharing a pixel: even at min_overlap 0 a disjoint box is fp
    gt = gt_table([("a", "cat", GT_BOX, 0)])
    det = det_table([("a", "cat", 0.9, (11, 11, 20, 20)), ("a", "cat", 0.8, (10, 10, 20, 20))])
    recall, _, _ = voc07_detection_pr(det, gt, "cat", min_overlap=0.0)
    np.testing.assert_allclose(recall, [0, 1])
