"""Unit precision, unit AP, filter subsets and overlap (thesis §3) against brute force."""

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from layerwise.analysis.ap import average_precision
from layerwise.analysis.units import (
    best_unit_pr_curves,
    filter_subsets,
    filters_needed,
    filters_needed_table,
    greedy_subset_ap,
    most_selective_curves,
    precision_curve,
    precision_curves,
    rank_filters_by_svm_weight,
    scaled_top,
    selectivity,
    subset_sizes,
    top_filters,
    topk_overlap,
    unit_ap,
    unit_aps,
)

K, T = 3, 8


def boxes(seed, n=60, F=5, P=None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, n)
    shape = (n, F) if P is None else (n, F, P)
    x = rng.gamma(0.8, 1.0, shape).astype(np.float32)
    x[rng.random(shape) < 0.3] = 0
    x[:, 0] += 1.5 * (labels == 0).reshape((n,) + (1,) * (x.ndim - 2))  # filter 0 likes class 0
    # filter 1 sits exactly on thresholds: values m*k/T with m = 4
    x[:, 1] = np.float32(4.0 * rng.integers(0, T + 1, x[:, 1].shape) / T)
    return x, labels


def precision_loop(v, labels, cls):
    """Direct: for each t_k, the boxes/positions with v >= t_k and the share of class cls."""
    v = v.reshape(len(labels), -1).astype(np.float64)
    pos_cls = np.repeat(labels, v.shape[1])
    m = float(v.max())
    prec, n_above = [], []
    for k in range(T):
        sel = v.ravel() >= m * k / T
        prec.append(np.mean(pos_cls[sel] == cls))
        n_above.append(sel.sum())
    return np.array(prec), np.array(n_above)


@pytest.mark.parametrize("P", [None, 4])
def test_precision_curve_matches_threshold_loop(P):
    x, labels = boxes(0, P=P)
    for f in range(x.shape[1]):
        for cls in range(K):
            t, prec, n_above = precision_curve(x[:, f], labels, cls, T)
            ref_prec, ref_n = precision_loop(x[:, f], labels, cls)
            np.testing.assert_allclose(prec, ref_prec, atol=1e-15)
            np.testing.assert_array_equal(n_above, ref_n)
            np.testing.assert_allclose(t, float(x[:, f].max()) * np.arange(T) / T)
        np.testing.assert_allclose(
            selectivity(x, labels, K, T)[f],
            [precision_loop(x[:, f], labels, c)[0].mean() for c in range(K)], atol=1e-15)


def test_precision_hand_case_and_dead_filter():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([4.0, 0.0, 2.0, 1.0], dtype=np.float32)
    # T = 4, m = 4: t = 0, 1, 2, 3 -> boxes above: all 4, {0,2,3}, {0,2}, {0}
    t, prec, n_above = precision_curve(scores, labels, 0, T=4)
    np.testing.assert_allclose(t, [0, 1, 2, 3])
    np.testing.assert_array_equal(n_above, [4, 3, 2, 1])
    np.testing.assert_allclose(prec, [0.5, 1 / 3, 0.5, 1.0])
    _, prec, n_above = precision_curves(np.zeros(4), labels, 2, T=4)  # never fires
    np.testing.assert_allclose(prec, 0.5)
    np.testing.assert_array_equal(n_above, 4)


def ap_loop(scores, positive, max_recall):
    """Brute-force interpolated AP: rank, precision/recall, 11 recall points."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    tp = fp = 0
    pr = []
    for i in order:
        tp += positive[i]
        fp += not positive[i]
        pr.append((tp / sum(positive), tp / (tp + fp)))
    return 100 * sum(max([p for r, p in pr if r >= max_recall * k / 10], default=0)
                     for k in range(11)) / 11


def test_unit_ap_matches_brute_force_full_and_partial():
    x, labels = boxes(1)
    for max_recall in (None, 0.25):
        aps = unit_aps(x, labels, K, max_recall)
        assert aps.shape == (x.shape[1], K)
        for f in range(x.shape[1]):
            for c in range(K):
                expected = ap_loop(list(x[:, f]), list(labels == c), max_recall or 1.0)
                assert aps[f, c] == pytest.approx(expected, abs=1e-9)
    # the filter built to like class 0 is its best unit
    assert unit_aps(x, labels, K)[:, 0].argmax() == 0
    with pytest.raises(ValueError, match="no positive"):
        unit_ap(x[:, 0], labels, cls=K)  # no box of that class


def test_ranking_follows_the_fitted_svm_weights():
    x, labels = boxes(2, F=8)
    ranking, w = rank_filters_by_svm_weight(x, labels, 1, C=0.5)
    svm = LinearSVC(C=0.5, dual=True, random_state=0).fit(
        x.astype(np.float64), np.where(labels == 1, 1, -1))
    np.testing.assert_allclose(w, svm.coef_.ravel(), rtol=1e-12)
    assert sorted(ranking) == list(range(8))
    assert all(abs(w[a]) >= abs(w[b]) for a, b in zip(ranking, ranking[1:]))
    np.testing.assert_array_equal(ranking, np.argsort(-np.abs(svm.coef_.ravel()), kind="stable"))


def test_greedy_subsets_match_manual_training():
    (xtr, ytr), (xte, yte) = boxes(3, F=6), boxes(4, F=6)
    aps = greedy_subset_ap((xtr, ytr), (xte, yte), cls=0, ks=[1, 2, 5, 50, 100], C=0.5)
    assert list(aps) == [1, 2, 5, 6]
    w_all = LinearSVC(C=0.5, dual=True, random_state=0).fit(
        xtr.astype(np.float64), np.where(ytr == 0, 1, -1)).coef_.ravel()
    order = np.argsort(-np.abs(w_all), kind="stable")
    for k, ap in aps.items():
        cols = order[:k]
        svm = LinearSVC(C=0.5, dual=True, random_state=0).fit(
            xtr[:, cols].astype(np.float64), np.where(ytr == 0, 1, -1))
        expected = 100 * average_precision(svm.decision_function(xte[:, cols].astype(np.float64)),
                                           np.where(yte == 0, 1, -1))
        assert ap == pytest.approx(expected, abs=1e-9)


def test_subset_sizes_clip_to_the_layer():
    assert subset_sizes([1, 2, 3, 5, 10, 256], 5) == [1, 2, 3, 5]


def test_filters_needed_hand_case():
    ap_by_k = {1: 20.0, 2: 35.0, 5: 50.0, 10: 71.0, 20: 80.0}
    # full AP 80: 50% = 40 -> first k with AP >= 40 is 5; 90% = 72 -> 20
    assert filters_needed(ap_by_k, 80.0) == {0.5: 5, 0.9: 20}
    assert filters_needed({1: 10.0}, 80.0, fractions=(0.5,)) == {0.5: None}
    # exactly on the fraction counts as reached
    assert filters_needed({3: 40.0, 1: 39.9}, 80.0, fractions=(0.5,)) == {0.5: 3}


def test_topk_overlap_matches_set_intersections():
    rng = np.random.default_rng(5)
    rankings = np.stack([rng.permutation(12) for _ in range(4)])
    for k in (1, 3, 5, 12, 20):
        kk = min(k, 12)
        expected = [[len(set(a[:kk]) & set(b[:kk])) / kk for b in rankings] for a in rankings]
        np.testing.assert_allclose(topk_overlap(rankings, k), expected)
    assert np.allclose(np.diag(topk_overlap(rankings, 3)), 1.0)


def test_top_filters_picks_the_largest_per_class_ties_by_index():
    values = np.array([[0.1, 0.9], [0.5, 0.9], [0.5, 0.2], [0.3, 0.0]])  # (F=4, K=2)
    np.testing.assert_array_equal(top_filters(values, 2), [[1, 2], [0, 1]])
    assert top_filters(values, 10).shape == (2, 4)  # clipped to F


def test_most_selective_curves_are_the_top_areas_and_their_loops():
    x, labels = boxes(6, F=6)
    filters, areas, n_above, prec = most_selective_curves(x, labels, K, n=2, T=T)
    for c in range(K):
        # brute force: area under each filter's precision loop, top 2 by area
        loop_areas = [precision_loop(x[:, f], labels, c)[0].mean() for f in range(6)]
        best = sorted(range(6), key=lambda f: (-loop_areas[f], f))[:2]
        np.testing.assert_array_equal(filters[c], best)
        for j, f in enumerate(best):
            ref_prec, ref_n = precision_loop(x[:, f], labels, c)
            assert areas[c, j] == pytest.approx(loop_areas[f], abs=1e-12)
            np.testing.assert_allclose(prec[c, j], ref_prec, atol=1e-15)
            np.testing.assert_array_equal(n_above[c, j], ref_n)
    assert filters[0, 0] == 0  # the filter built to like class 0


def test_best_unit_pr_curves_rank_by_partial_ap():
    x, labels = boxes(7, F=6)
    filters, aps, curves = best_unit_pr_curves(x, labels, K, n=3, max_recall=0.25)
    for c in range(K):
        ref = [ap_loop(list(x[:, f]), list(labels == c), 0.25) for f in range(6)]
        best = sorted(range(6), key=lambda f: (-ref[f], f))[:3]
        np.testing.assert_array_equal(filters[c], best)
        np.testing.assert_allclose(aps[c], [ref[f] for f in best], atol=1e-9)
        recall, precision = curves[c][0]
        n_pos = (labels == c).sum()
        ranked = labels[np.argsort(-x[:, best[0]], kind="stable")] == c
        np.testing.assert_allclose(recall, np.cumsum(ranked) / n_pos)
        np.testing.assert_allclose(precision, np.cumsum(ranked) / np.arange(1, len(ranked) + 1))


def test_filter_subsets_scale_once_then_follow_greedy_subsets():
    (xtr, ytr), (xte, yte) = boxes(8, F=6), boxes(9, F=6)
    ks, aps, rankings, weights = filter_subsets((xtr, ytr), (xte, yte), K, [50, 2, 1], C=0.5,
                                                target_norm=20)
    assert ks == [1, 2, 6]
    scale = np.float32(20 / np.linalg.norm(xtr, axis=1).mean())
    for c in range(K):
        ranking, w = rank_filters_by_svm_weight(scale * xtr, ytr, c, C=0.5)
        np.testing.assert_array_equal(rankings[c], ranking)
        np.testing.assert_allclose(weights[c], w)
        expected = greedy_subset_ap((scale * xtr, ytr), (scale * xte, yte), c, ks, C=0.5)
        np.testing.assert_allclose(aps[c], [expected[k] for k in ks])
        # the ranking follows |w|
        assert all(abs(w[a]) >= abs(w[b]) for a, b in zip(ranking, ranking[1:]))


def test_filters_needed_table_layout_and_values():
    ks = [1, 2, 5, 10]
    subsets = {"AN": (ks, np.array([[20.0, 35, 50, 80], [79, 80, 80, 80]])),
               "FT": (ks, np.array([[40.0, 72, 75, 80], [10, 20, 30, 40]]))}
    table = filters_needed_table(subsets, ["aero", "bike"])
    assert table.columns.tolist() == ["Net AP", "aero", "bike"]
    assert table["Net AP"].tolist() == ["AN 50", "FT 50", "AN 90", "FT 90"]
    # AN aero: full 80 -> 40 first reached at k=5, 72 at k=10; AN bike: 79 >= 72 at k=1;
    # FT bike: full 40 -> 20 at k=2, 36 at k=10
    np.testing.assert_array_equal(table[["aero", "bike"]].to_numpy(),
                                  [[5, 1], [1, 2], [10, 1], [2, 10]])


def test_scaled_top_keeps_the_thesis_fraction():
    assert scaled_top(50, 256) == 50
    assert scaled_top(50, 64) == 12  # 12.5 rounds to even
    assert scaled_top(50, 3) == 1
    assert scaled_top(50, 10) == 2
