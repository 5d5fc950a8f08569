"""R-CNN test-time detections and VOC2007 detection AP (SPEC §9; thesis Tables 2.3, 4.2, 5.2).

`detect` follows rcnn_test.m and imdb_eval_voc.m for one image; `voc07_detection_ap` follows
the VOC2007 devkit's VOCevaldet.m. Boxes are 1-based inclusive VOC pixel boxes.
"""

import numpy as np
import pandas as pd

from layerwise.analysis.ap import voc07_ap
from layerwise.detection.boxes import box_iou_voc, nms_per_class
from layerwise.detection.svm import score_features

DETECTION_COLUMNS = ["image_id", "class", "score", "x1", "y1", "x2", "y2"]
BOX_COLUMNS = ["x1", "y1", "x2", "y2"]


def detect(scores, boxes, nms_iou=0.3, max_per_image=100, image_id=0, classes=None):
    """One image's detections: per class, the top `max_per_image` boxes by score, then NMS.

    scores: (M, K) detector scores of the image's M region proposals (ground-truth rows
    excluded, as rcnn_test does); boxes: (M, 4) VOC boxes. rcnn_test keeps each class's
    100 best-scoring boxes per image, and imdb_eval_voc then applies nms.m at IoU 0.3
    (`max_per_image=None` keeps all boxes). rcnn_test's further cut to about 40 boxes per
    image per class on average over the test set is not applied: it needs every image's
    scores at once, and it only drops a class's lowest-scoring detections.

    classes: names of the K classes for the `class` column (default: 0..K-1).
    Returns a DataFrame with DETECTION_COLUMNS, class by class, each by decreasing score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.arange(scores.shape[1]) if classes is None else np.asarray(classes)
    rows, cls = nms_per_class(boxes, scores, nms_iou, max_per_image)
    out = pd.DataFrame(boxes[rows], columns=BOX_COLUMNS)
    out.insert(0, "score", scores[rows, cls])
    out.insert(0, "class", classes[cls])
    out.insert(0, "image_id", image_id)
    return out


def _best_overlaps(det, gt):
    """For each detection, the largest VOC IoU with a ground truth of its image and the
    position (in `gt`) of that ground truth: VOCevaldet's ovmax and jmax. Ties go to the
    first ground truth (the devkit updates on `ov > ovmax`); with no overlapping ground
    truth ovmax is -inf and jmax -1."""
    ovmax = np.full(len(det), -np.inf)
    jmax = np.full(len(det), -1, dtype=np.int64)
    gt_rows = gt.groupby("image_id", sort=False).indices
    for image, d_rows in det.groupby("image_id", sort=False).indices.items():
        g_rows = gt_rows.get(image)
        if g_rows is None:
            continue
        iou = box_iou_voc(det[BOX_COLUMNS].to_numpy()[d_rows], gt[BOX_COLUMNS].to_numpy()[g_rows])
        best = iou.argmax(axis=1)
        best_iou = iou[np.arange(len(d_rows)), best]
        # the devkit only scores ground truth that shares at least one pixel
        hit = best_iou > 0
        ovmax[d_rows[hit]] = best_iou[hit]
        jmax[d_rows[hit]] = g_rows[best[hit]]
    return ovmax, jmax


def voc07_detection_pr(detections, ground_truth, cls, min_overlap=0.5, image_ids=None):
    """Recall and precision down the ranked detections of class `cls` (VOCevaldet).

    detections: DataFrame with image_id, class, score, x1, y1, x2, y2 (after NMS).
    ground_truth: DataFrame with image_id, class, x1, y1, x2, y2, difficult (one row per
    object, as results/data/voc07_test_index.csv).

    Detections are ranked by score, descending, ties in input order (MATLAB's stable sort).
    Each is matched to the ground truth of its image and class with the largest IoU; if that
    IoU >= `min_overlap` (inclusive, +1 pixel convention) the detection is a true positive
    when the object is not difficult and not yet detected, a false positive when it was
    already detected, and ignored (neither) when the object is difficult. Any other
    detection, including every detection on an image without objects of the class, is a
    false positive. Positives counted: the class's non-difficult objects.

    Ignored detections are left out of the returned curves: in the devkit they repeat the
    previous (recall, precision) point (or give 0/0 first), which changes no AP.
    image_ids: optional list of the test images; a detection on any other image raises
    ValueError, as VOCevaldet's "unrecognized image" does.
    Raises ValueError when `cls` has no non-difficult object: recall, and so AP, is
    undefined (the rule layerwise.analysis.ap applies to classification).
    Returns (recall, precision, npos).
    """
    if image_ids is not None:
        unknown = set(detections["image_id"]) - set(image_ids)
        if unknown:
            raise ValueError(f"detections on images outside the test set: {sorted(unknown)[:5]}")
    gt = ground_truth[ground_truth["class"] == cls].reset_index(drop=True)
    difficult = gt["difficult"].to_numpy().astype(bool)
    npos = int((~difficult).sum())
    if npos == 0:
        raise ValueError(f"class {cls!r} has no non-difficult ground truth: its AP is undefined")
    det = detections[detections["class"] == cls].reset_index(drop=True)
    det = det.iloc[np.argsort(-det["score"].to_numpy(dtype=np.float64), kind="stable")]
    det = det.reset_index(drop=True)
    ovmax, jmax = _best_overlaps(det, gt)
    matched = ovmax >= min_overlap
    ignored = matched & difficult[np.maximum(jmax, 0)]
    claims = matched & ~ignored
    tp = np.zeros(len(det), bool)
    # the first (highest-ranked) claim on an object detects it; later ones are duplicates
    _, first = np.unique(jmax[claims], return_index=True)
    tp[np.flatnonzero(claims)[first]] = True
    tp = tp[~ignored]
    ctp = np.cumsum(tp)
    return ctp / npos, ctp / np.arange(1, len(tp) + 1), npos


def voc07_detection_ap(detections, ground_truth, cls, min_overlap=0.5, image_ids=None):
    """VOC2007 detection AP (fraction) of class `cls`: 11-point interpolated AP
    (layerwise.analysis.ap.voc07_ap) of :func:`voc07_detection_pr`'s curve. A class without
    detections has AP 0; a class without non-difficult objects raises ValueError."""
    recall, precision, _ = voc07_detection_pr(detections, ground_truth, cls, min_overlap,
                                              image_ids)
    return voc07_ap(recall, precision)


def detect_images(get_image_features, image_ids, W, b, feat_scale=1.0, nms_iou=0.3,
                    max_per_image=100, classes=None, progress=None):
    """rcnn_test over a test set: every image's proposals (rows labelled -1; ground-truth rows
    are skipped, as rcnn_test skips them) scored by the detectors (W, b) on features scaled by
    `feat_scale`, then :func:`detect`. `get_image_features(i) -> (feats, boxes, labels)` as in
    `layerwise.detection.svm`. Returns one DataFrame with DETECTION_COLUMNS."""
    images = range(len(image_ids)) if progress is None else progress(range(len(image_ids)))
    out = []
    for i in images:
        feats, boxes, labels = get_image_features(i)
        proposals = np.asarray(labels) < 0
        scores = score_features(np.asarray(feats)[proposals], W, b, feat_scale)
        out.append(detect(scores, np.asarray(boxes)[proposals], nms_iou, max_per_image,
                          image_ids[i], classes))
    if not out:
        return pd.DataFrame(columns=DETECTION_COLUMNS)
    return pd.concat(out, ignore_index=True)


def detection_aps(detections, ground_truth, classes, min_overlap=0.5, image_ids=None):
    """VOC2007 detection AP (percent) of each class in `classes`, as a numpy array; NaN for a
    class without non-difficult ground truth (its AP is undefined, see voc07_detection_pr)."""
    aps = []
    for cls in classes:
        if not ((ground_truth["class"] == cls) & (ground_truth["difficult"] == 0)).any():
            aps.append(np.nan)
            continue
        aps.append(100.0 * voc07_detection_ap(detections, ground_truth, cls, min_overlap,
                                              image_ids))
    return np.array(aps)
