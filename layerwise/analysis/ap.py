"""VOC2007 average precision, written once for classification and detection.

This is the ``VOCap``-style computation of the PASCAL VOC2007 devkit
(``VOCevalcls.m`` / ``VOCevaldet.m``, ``VOCopts.VOC2007 = true``): the
11-point interpolated AP, the mean over t = 0, 0.1, ..., 1.0 of the maximum
precision at recall >= t (0 when no recall reaches t).

All functions here return fractions in [0, 1], as the devkit does; the
analysis modules convert to percent.
"""

import numpy as np

N_POINTS = 11


def recall_points(max_recall=1.0):
    """The 11 recall thresholds t_k = max_recall * k / 10, k = 0..10.

    With max_recall = 1 these are k / 10 computed by one correctly rounded
    division, so a recall tp / npos that equals k / 10 mathematically is also
    equal in floating point. (``np.arange(0, 1.1, 0.1)`` gives
    0.30000000000000004 and would drop a recall of exactly 0.3.)
    """
    return np.arange(N_POINTS) * float(max_recall) / (N_POINTS - 1)


def voc07_ap(recall, precision, max_recall=1.0):
    """VOC2007 11-point interpolated AP of one precision-recall curve (fraction).

    ``recall`` and ``precision`` are the cumulative curves over the ranked list
    (any order works: the interpolation takes a max over all points with recall
    >= t). NaN precisions (0/0 where only ignored items were ranked first, as
    ``VOCevaldet`` can produce) are skipped, as MATLAB's ``max`` skips them.

    ``max_recall`` < 1 gives the partial AP used to rank single units in
    thesis Fig 3-2: the same 11-point average over t = max_recall * k / 10,
    k = 0..10, i.e. the mean interpolated precision on [0, max_recall].
    With max_recall = 1 this is exactly the devkit's AP.
    """
    recall = np.asarray(recall, dtype=np.float64).ravel()
    precision = np.asarray(precision, dtype=np.float64).ravel()
    if recall.shape != precision.shape:
        raise ValueError(f"recall {recall.shape} and precision {precision.shape} differ")
    valid = ~np.isnan(precision)
    total = 0.0
    for t in recall_points(max_recall):
        reached = precision[valid & (recall >= t)]
        total += reached.max() if reached.size else 0.0
    return total / N_POINTS


def precision_recall(scores, labels, cls=None):
    """Precision and recall down the ranked list, as ``VOCevalcls`` computes them.

    ``labels`` are 1 (positive), -1 (negative) or 0 (ignored: in VOC, the class
    appears only as difficult objects). Samples are ranked by score descending
    with a *stable* sort, like MATLAB's ``sort(-confidence)``: tied samples keep
    their input order, so with ties the AP depends on that order exactly as in
    the devkit. Ignored samples are dropped before ranking; the devkit keeps
    them as neither tp nor fp, which repeats the previous (recall, precision)
    point and cannot change any interpolated maximum, so the AP is identical.

    Raises ValueError (naming ``cls``) when there is no positive sample: the
    AP is undefined, and a silent 0 or 1 would corrupt a mean.
    Returns (recall, precision) over the kept samples in rank order.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ")
    if not np.isin(labels, (-1, 0, 1)).all():
        raise ValueError(f"labels for class {cls!r} must be 1, -1 or 0")
    if np.isnan(scores).any():
        raise ValueError(f"NaN scores for class {cls!r}")
    keep = labels != 0
    ranked = labels[keep][np.argsort(-scores[keep], kind="stable")]
    tp = np.cumsum(ranked > 0)
    fp = np.cumsum(ranked < 0)
    if tp.size == 0 or tp[-1] == 0:
        raise ValueError(f"class {cls!r} has no positive samples: its AP is undefined")
    return tp / tp[-1], tp / (tp + fp)


def average_precision(scores, labels, cls=None, max_recall=1.0):
    """VOC2007 classification AP (fraction) of ``scores`` against 1/-1/0 ``labels``.

    See :func:`precision_recall` for ranking, ties and ignored samples, and
    :func:`voc07_ap` for the interpolation and ``max_recall``. Raises
    ValueError naming ``cls`` when the class has no positive sample.
    """
    recall, precision = precision_recall(scores, labels, cls)
    return voc07_ap(recall, precision, max_recall)
