"""Grandmother cells: how selective and how discriminative single units are (thesis §3).

Scores are one filter's activations on the gt boxes: (N,) per box (e.g. its
spatial max, as in Figs 3-1 and 3-2) or (N, ...) per position, every
position carrying its box's class. Labels are one class index per box.
Thresholds are those of the entropy analysis, t_k = (m * k) / T with m the
filter's maximum (:mod:`.selectivity`).
"""

import numpy as np
import pandas as pd

from .ap import average_precision, precision_recall
from .classification import feature_scale, fit_svm
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


def greedy_subset_ap(train, test, cls, ks, C, seed=0, ranking=None):
    """Test AP (percent) with the top-k filters by SVM weight, for each k (§3.4, Fig 3-4).

    ``train`` and ``test`` are (spmax_features (N, F), labels (N,)) pairs.
    The ranking comes from an SVM on all training filters (or is given, from
    :func:`rank_filters_by_svm_weight`); for each k a new SVM is trained on
    the k best. Returns {k: AP} over :func:`subset_sizes`.
    """
    (X, y), (Xt, yt) = train, test
    if ranking is None:
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


def top_filters(values, n):
    """(K, n) indices of the n filters with the largest value per class, best first (Figs 3-1, 3-2).

    ``values`` is (F, K), e.g. :func:`selectivity` or :func:`unit_aps`; ties
    go to the lower filter index, so the choice is deterministic.
    """
    values = np.asarray(values)
    return np.argsort(-values.T, axis=1, kind="stable")[:, : min(n, values.shape[0])]


def most_selective_curves(spmax_scores, labels, n_classes, n=5, T=DEFAULT_T):
    """Precision curves of the n most selective filters of each class (§3.2, Fig 3-1).

    A filter's score for a box is its spatial max (one score per box, so the
    x axis counts boxes, "number of examples"); selectivity is the area under
    its precision curve (:func:`selectivity`). Returns (filters (K, n),
    areas (K, n), n_above (K, n, T), precision (K, n, T)).
    """
    areas = selectivity(spmax_scores, labels, n_classes, T)
    filters = top_filters(areas, n)
    n_above = np.zeros(filters.shape + (T,))
    precision = np.zeros(filters.shape + (T,))
    for f in np.unique(filters):
        _, prec, above = precision_curves(spmax_scores[:, f], labels, n_classes, T)
        for c, j in zip(*np.nonzero(filters == f)):
            n_above[c, j], precision[c, j] = above, prec[c]
    return filters, np.take_along_axis(areas.T, filters, axis=1), n_above, precision


def best_unit_pr_curves(spmax_scores, labels, n_classes, n=5, max_recall=0.25):
    """Precision-recall curves of the n filters with the best AP up to ``max_recall`` (§3.3, Fig 3-2).

    Returns (filters (K, n), partial APs (K, n) in percent, curves), where
    curves[c][j] is the (recall, precision) pair of arrays down the ranked
    boxes for filter filters[c, j] as a detector of class c.
    """
    aps = unit_aps(spmax_scores, labels, n_classes, max_recall)
    filters = top_filters(aps, n)
    labels = np.asarray(labels)
    curves = [[precision_recall(spmax_scores[:, f], np.where(labels == c, 1, -1), c)
               for f in filters[c]] for c in range(n_classes)]
    return filters, np.take_along_axis(aps.T, filters, axis=1), curves


def filter_subsets(train, test, n_classes, ks, C, target_norm, seed=0):
    """Greedy SVM-weight filter subsets for every class (§3.4, Figs 3-3, 3-4, Table 3.1).

    ``train`` and ``test`` are (spmax_features (N, F), labels (N,)) pairs of
    the trainval and test gt boxes. The features are first scaled so that the
    training rows have mean L2 norm ``target_norm`` (the SVM protocol of every
    other gt-box classifier, §2.4; one factor for all subsets and the test
    set, so that C means the same for every k). Per class: rank the filters
    by |w| of an SVM on all of them, then train on the top k for each k of
    :func:`subset_sizes`. Returns (ks ascending, aps (K, len(ks)) percent test AP,
    rankings (K, F), weights (K, F)); the AP at the largest k (all filters
    when the sweep reaches the layer's width) is the full AP of Table 3.1.
    """
    (X, y), (Xt, yt) = train, test
    scale = feature_scale(X, target_norm)
    X, Xt = np.float32(scale) * X, np.float32(scale) * Xt
    ks = sorted(subset_sizes(ks, X.shape[1]))
    aps, rankings, weights = [], [], []
    for c in range(n_classes):
        ranking, w = rank_filters_by_svm_weight(X, y, c, C, seed)
        by_k = greedy_subset_ap((X, y), (Xt, yt), c, ks, C, seed, ranking)
        aps.append([by_k[k] for k in ks])
        rankings.append(ranking)
        weights.append(w)
    return ks, np.array(aps), np.array(rankings), np.array(weights)


def scaled_top(k, n_filters, reference_width=256):
    """Fig 3-5's top-k scaled from CaffeNet's pool5 width to a layer of ``n_filters`` (at least 1).

    The thesis takes the top 50 of 256 filters; a narrower demo layer keeps
    the same fraction, so 50 of 256 becomes 12 of 64.
    """
    return max(1, min(n_filters, round(k * n_filters / reference_width)))


def filters_needed_table(subsets, class_names, fractions=(0.5, 0.9)):
    """Table 3.1: filters needed for each fraction of the all-filter AP, per net and class (§3.4).

    ``subsets`` maps a net's row label ("AN", "FT") to (ks, aps (K, len(ks)))
    from :func:`filter_subsets`; the AP at the largest k is the all-filter AP.
    Rows "<net> <percent>" in the thesis' order (AN 50, FT 50, AN 90, FT 90).
    """
    rows = []
    for f in fractions:
        for net, (ks, aps) in subsets.items():
            needed = [filters_needed(dict(zip(ks, row)), row[-1], (f,))[f] for row in aps]
            rows.append([f"{net} {round(100 * f)}", *needed])
    return pd.DataFrame(rows, columns=["Net AP", *class_names])
