"""Grandmother cells: how selective and how discriminative single units are (thesis §3).

Scores are one filter's activations on the gt boxes: (N,) per box (e.g. its
spatial max, as in Figs 3-1 and 3-2) or (N, ...) per position, every
position carrying its box's class. Labels are one class index per box.
Thresholds are those of the entropy analysis, t_k = (m * k) / T with m the
filter's maximum (:mod:`.selectivity`).
"""

import numpy as np

from .ap import average_precision
from .classification import fit_svm
from .selectivity import DEFAULT_T, class_histograms, thresholds


def precision_curves(scores, labels, n_classes, T=DEFAULT_T):
    """P(class | activation >= t_k) for every class at once (§3.2, eq. 3.3).

    Returns (thresholds (T,), precision (K, T), n_above (T,)), where
    n_above[k] counts the scores >= t_k: the x axis of Fig 3-1. A filter
    that never fires (m <= 0) has all t_k = 0, so its precision is the
    class frequency. Scores are compared in float32, as activations are stored.
    """
    hist = class_histograms(scores, labels, n_classes, T)
    n_above = hist.sum(axis=0)
    m = float(np.max(np.asarray(scores, dtype=np.float32)))  # as class_histograms sees it
    return thresholds(max(m, 0.0), T), hist / n_above, n_above


def precision_curve(scores, labels, cls, T=DEFAULT_T):
    """Precision curve of class ``cls`` (§3.2): (thresholds, precision (T,), n_above (T,))."""
    is_cls = (np.asarray(labels) == cls).astype(np.intp)
    t, precision, n_above = precision_curves(scores, is_cls, 2, T)
    return t, precision[1], n_above


def selectivity(scores, labels, n_classes, T=DEFAULT_T):
    """Area under the precision curve, (1/T) sum_k P(class | a >= t_k), of every filter (§3.2).

    ``scores`` is (N, F) or (N, F, ...) for F filters; returns (F, K).
    """
    scores = np.asarray(scores)
    return np.stack([precision_curves(scores[:, f], labels, n_classes, T)[1].mean(axis=1)
                     for f in range(scores.shape[1])])


def unit_ap(spmax_scores, labels, cls, max_recall=None):
    """AP (percent) of one filter's spatial max as the score for class ``cls`` (§3.3).

    Boxes of class ``cls`` are positives, all others negatives. ``max_recall``
    (Fig 3-2 ranks filters with 0.25) gives the partial AP of
    :func:`.ap.voc07_ap`: the mean interpolated precision at the 11 recalls
    max_recall * k / 10, which is 100 for a filter whose top-ranked boxes
    reach that recall without a false positive.
    """
    y = np.where(np.asarray(labels) == cls, 1, -1)
    return 100.0 * average_precision(spmax_scores, y, cls, 1.0 if max_recall is None else max_recall)


def unit_aps(spmax_scores, labels, n_classes, max_recall=None):
    """:func:`unit_ap` of every filter for every class, (F, K) in percent (Fig 3-2)."""
    return np.array([[unit_ap(spmax_scores[:, f], labels, c, max_recall) for c in range(n_classes)]
                     for f in range(spmax_scores.shape[1])])


def rank_filters_by_svm_weight(spmax_features, labels, cls, C, seed=0):
    """Filters ranked by |w| of a one-vs-rest linear SVM on sp-max features (§3.4, Fig 3-3).

    Returns (ranking, w): filter indices by |w| descending (ties by index)
    and the SVM weights.
    """
    X = np.ascontiguousarray(spmax_features, dtype=np.float32)
    w, _ = fit_svm(X, np.where(np.asarray(labels) == cls, 1, -1), C, seed)
    return np.argsort(-np.abs(w), kind="stable"), w


def subset_sizes(ks, n_filters):
    """The k of the sweep clipped to the layer's width, duplicates dropped, order kept."""
    return list(dict.fromkeys(min(int(k), n_filters) for k in ks))


def greedy_subset_ap(train, test, cls, ks, C, seed=0):
    """Test AP (percent) with the top-k filters by SVM weight, for each k (§3.4, Fig 3-4).

    ``train`` and ``test`` are (spmax_features (N, F), labels (N,)) pairs.
    The ranking comes from an SVM on all training filters; for each k a new
    SVM is trained on the k best. Returns {k: AP} over :func:`subset_sizes`.
    """
    (X, y), (Xt, yt) = train, test
    ranking, _ = rank_filters_by_svm_weight(X, y, cls, C, seed)
    y_pm, yt_pm = np.where(np.asarray(y) == cls, 1, -1), np.where(np.asarray(yt) == cls, 1, -1)
    aps = {}
    for k in subset_sizes(ks, X.shape[1]):
        cols = ranking[:k]
        w, b = fit_svm(np.ascontiguousarray(X[:, cols], dtype=np.float32), y_pm, C, seed)
        scores = np.asarray(Xt[:, cols], dtype=np.float64) @ w + b
        aps[k] = 100.0 * average_precision(scores, yt_pm, cls)
    return aps


def filters_needed(ap_by_k, full_ap, fractions=(0.5, 0.9)):
    """Smallest k whose AP reaches each fraction of the all-filter AP (Table 3.1).

    ``ap_by_k`` maps k to AP; returns {fraction: k}, None where never reached.
    """
    ks = sorted(ap_by_k)
    return {f: next((k for k in ks if ap_by_k[k] >= f * full_ap), None) for f in fractions}


def topk_overlap(rankings, k):
    """Entry (i, j): the fraction of class i's top-k filters also in class j's top-k (Fig 3-5).

    ``rankings`` is (K, F), each row filter indices best first; k is clipped to F.
    """
    rankings = np.asarray(rankings)
    k = min(k, rankings.shape[1])
    member = np.zeros((len(rankings), rankings.max() + 1), dtype=np.float64)
    np.put_along_axis(member, rankings[:, :k], 1.0, axis=1)
    return member @ member.T / k
