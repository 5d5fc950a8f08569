"""Entropy curves, AuE and MCAuE (thesis §2.2) against a loop over thresholds."""

import math

import h5py
import numpy as np
import pytest

from layerwise.analysis.selectivity import (
    METHODS,
    class_histograms,
    entropy_bits,
    filter_entropies,
    mcaue,
    mcaue_at,
    percent_decrease,
    table2_1_row,
    threshold_buckets,
)


def entropy_loop(hist):
    total = sum(hist)
    return -sum(h / total * math.log2(h / total) for h in hist if h > 0)


def reference_curves(x, labels, K, T):
    """Literal §2.2: for each filter and each t_k, select scores >= t_k directly."""
    N, C, H, W = x.shape
    out = {"label": [], "weighted": [], "spmax": []}
    for c in range(C):
        v = x[:, c].reshape(N, -1).astype(np.float64)  # exact: float32 -> float64
        m = float(v.max())
        pos_cls = np.repeat(labels, v.shape[1])
        curves = {"label": [], "weighted": [], "spmax": []}
        for k in range(T):
            if m <= 0:
                h = entropy_loop([np.sum(labels == j) for j in range(K)])
                for key in curves:
                    curves[key].append(h)
                continue
            t = m * k / T
            sel = v.ravel() >= t
            curves["label"].append(entropy_loop([np.sum(sel & (pos_cls == j)) for j in range(K)]))
            curves["weighted"].append(
                entropy_loop([v.ravel()[sel & (pos_cls == j)].sum() for j in range(K)])
            )
            box = v.max(axis=1) >= t
            curves["spmax"].append(entropy_loop([np.sum(box & (labels == j)) for j in range(K)]))
        for key in out:
            out[key].append(curves[key])
    return {key: np.array(val) for key, val in out.items()}


def on_thresholds(m, T, rng, n):
    """float32 values on and next to the thresholds m*k/T (the >= boundary)."""
    k = rng.integers(0, T, n)
    t = np.float32(m * k / T)
    side = rng.integers(-1, 2, n)
    return np.where(side < 0, np.nextafter(t, np.float32(0)), np.where(side > 0, np.nextafter(t, np.float32(np.inf)), t))


def random_layer(rng, N=40, C=6, H=3, W=2, K=4, T=10):
    x = rng.gamma(0.7, 1.3, size=(N, C, H, W)).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = 0  # ReLU zeros
    # channel 1: every value sits on or beside a threshold of its own maximum
    m = np.float32(2.7)
    x[:, 1] = on_thresholds(float(m), T, rng, N * H * W).reshape(N, H, W)
    x[0, 1, 0, 0] = m
    x[:, 2] = 0  # dead filter
    labels = rng.integers(0, K, N)
    x[:, 3] = 0  # fires for class 0 only
    x[labels == 0, 3] = rng.random(((labels == 0).sum(), H, W)).astype(np.float32) + 0.1
    return x, labels


def test_buckets_agree_with_direct_comparison_at_exact_ties():
    rng = np.random.default_rng(0)
    for m in [1.0, 0.37, 2.7, 3.1e-3, 123.456, 1e-40]:
        m32 = float(np.float32(m))
        for T in (7, 10, 100):
            v = on_thresholds(m32, T, rng, 3000)
            v = np.concatenate([v, np.float32([0, m32, -1.0])])
            ks = np.arange(T)
            direct = (v.astype(np.float64)[:, None] >= m32 * ks[None, :] / T).sum(axis=1) - 1
            np.testing.assert_array_equal(threshold_buckets(v, m32, T), direct)


def test_entropies_match_the_threshold_loop():
    rng = np.random.default_rng(1)
    K, T = 4, 10
    x, labels = random_layer(rng, K=K, T=T)
    ref = reference_curves(x, labels, K, T)
    res = filter_entropies(x, labels, K, T=T, return_curves=True)
    for key in ("label", "weighted", "spmax"):
        np.testing.assert_allclose(res[f"curve_{key}"], ref[key], atol=1e-12)
        np.testing.assert_allclose(res[f"aue_{key}"], ref[key].mean(axis=1), atol=1e-12)
    np.testing.assert_array_equal(res["dead"], [False, False, True, False, False, False])


@pytest.mark.parametrize("seed", [1, 4])
def test_float16_scores_match_the_threshold_loop(seed):
    """The float16 path (a table of bit patterns) against the loop on the same values."""
    from layerwise.analysis.selectivity import _float16_entropy_curves

    rng = np.random.default_rng(seed)
    K, T = 4, 10
    x, labels = random_layer(rng, K=K, T=T)
    x = x.astype(np.float16)
    x[:, 4, 0, 0] = -0.0  # -0.0 is a zero: at t_0
    x[:3, 5] = -np.float16(0.5)  # negatives: in no histogram; boxes 0-2 have no score >= 0
    x[0, 5, 0, 0] = -0.0  # ... except -0.0, their spatial max
    x[:, 0] = -x[:, 0]  # all <= 0: dead
    ref = reference_curves(x.astype(np.float32), labels, K, T)
    for c in range(x.shape[1]):  # the table path directly: these arrays are too small to pick it
        m, curves = _float16_entropy_curves(x[:, c].reshape(len(x), -1), labels, K, T)
        assert m == float(x[:, c].astype(np.float32).max())
        for i, key in enumerate(("label", "weighted", "spmax")):
            np.testing.assert_allclose(curves[i], ref[key][c], atol=1e-12)
    res = filter_entropies(x, labels, K, T=T)
    assert res["dead"][0] and res["dead"][2]


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_non_finite_scores_are_rejected(dtype):
    x = np.ones((2, 1, 1, 2), dtype=dtype)
    x[1, 0, 0, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        filter_entropies(x, np.array([0, 1]), 2)
    if dtype == np.float16:
        from layerwise.analysis.selectivity import _float16_entropy_curves

        with pytest.raises(ValueError, match="non-finite"):
            _float16_entropy_curves(x.reshape(2, 2), np.array([0, 1]), 2, 10)


def test_negative_scores_are_in_no_histogram_of_the_loop_either():
    rng = np.random.default_rng(3)
    x, labels = random_layer(rng, K=3, T=10)
    x[rng.random(x.shape) < 0.2] *= -1  # not ReLU outputs: below t_0 = 0
    x[:, 2] = -1.0  # m < 0: dead
    ref = reference_curves(x, labels, 3, 10)
    res = filter_entropies(x, labels, 3, T=10, return_curves=True)
    for key in ("label", "weighted", "spmax"):
        np.testing.assert_allclose(res[f"curve_{key}"], ref[key], atol=1e-12)
    assert res["dead"][2]


def test_dead_filter_gets_the_class_entropy_and_is_flagged():
    labels = np.array([0, 0, 1, 2])  # class distribution 1/2, 1/4, 1/4 -> 1.5 bits
    x = np.zeros((4, 1, 2, 2), dtype=np.float16)
    res = filter_entropies(x, labels, 3, T=5)
    assert res["dead"][0]
    for key in ("aue_label", "aue_weighted", "aue_spmax"):
        assert res[key][0] == pytest.approx(1.5)


def test_single_class_filter_has_zero_entropy_above_zero():
    labels = np.array([0, 1, 1, 2])
    x = np.zeros((4, 1, 1, 2), dtype=np.float32)
    x[2, 0, 0, 1] = 4.0  # only a class-1 box ever fires
    res = filter_entropies(x, labels, 3, T=4, return_curves=True)
    # t_0 = 0 takes every position: classes (0,0,1,1,1,1,2,2) -> 1.5 bits;
    # t_1..t_3 = 1, 2, 3 keep only the class-1 position -> 0
    np.testing.assert_allclose(res["curve_label"][0], [1.5, 0, 0, 0])
    # weighted: at t_0 only the 4.0 carries weight -> 0 everywhere
    np.testing.assert_allclose(res["curve_weighted"][0], [0, 0, 0, 0])
    # spmax: box maxima (0, 0, 4, 0): t_0 -> classes 0,1,1,2 -> 1.5 bits
    np.testing.assert_allclose(res["curve_spmax"][0], [1.5, 0, 0, 0])
    assert res["aue_label"][0] == pytest.approx(1.5 / 4)


def test_streaming_from_hdf5_under_a_small_budget_matches_in_memory(tmp_path):
    rng = np.random.default_rng(2)
    x, labels = random_layer(rng, N=30, C=7, K=3, T=10)
    path = tmp_path / "pool.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=x.astype(np.float16), chunks=(8, 2, 3, 2),
                         compression="gzip")
    whole = filter_entropies(x.astype(np.float16), labels, 3, T=10)
    with h5py.File(path) as f:
        fixed = 30 * 6 * 12 + 3 * 3 * 65536 * 8 + (1 << 16) * 48
        budget = fixed + 2 * 30 * 6 * 2  # two channels per block
        streamed = filter_entropies(f["features"], labels, 3, T=10, memory_bytes=budget)
    for key in whole:
        np.testing.assert_array_equal(whole[key], streamed[key])
    with h5py.File(path) as f, pytest.raises(ValueError, match="too small"):
        filter_entropies(f["features"], labels, 3, T=10, memory_bytes=1000)


def test_negative_scores_count_at_no_threshold():
    hist = class_histograms(np.array([-1.0, 0.0, 2.0]), np.array([0, 1, 1]), 2, T=2)
    np.testing.assert_array_equal(hist, [[0, 0], [2, 1]])


def test_entropy_bits_hand_values():
    assert entropy_bits([1, 1]) == pytest.approx(1.0)
    assert entropy_bits([2, 0, 0]) == 0.0
    assert entropy_bits([1, 1, 1, 1]) == pytest.approx(2.0)


def test_mcaue_and_percent_decrease():
    aue = np.array([3.0, 1.0, 2.0, 6.0])
    # sorted 1, 2, 3, 6 -> means 1, 1.5, 2, 3
    np.testing.assert_allclose(mcaue(aue), [1, 1.5, 2, 3])
    # fractions .1 .25 .5 1 of 4 filters -> ceil: 1, 1, 2, 4 filters
    np.testing.assert_allclose(mcaue_at(aue), [1, 1, 1.5, 3])
    # eq. 2.1: 100 * (2 - 1.5) / 2 = 25; an increase is negative
    assert percent_decrease(2.0, 1.5) == pytest.approx(25.0)
    assert percent_decrease(2.0, 3.0) == pytest.approx(-50.0)


def test_bad_labels_are_rejected():
    x = np.ones((2, 1, 1, 1), dtype=np.float32)
    with pytest.raises(ValueError):
        filter_entropies(x, np.array([0, 3]), 3)
    with pytest.raises(ValueError):
        filter_entropies(x, np.array([0]), 3)


def test_table2_1_row_is_eq_2_1_per_method_and_fraction():
    a = {"label": np.array([3.0, 1.0, 2.0, 6.0]), "weighted": np.array([2.0, 2.0, 2.0, 2.0]),
         "spmax": np.array([1.0, 1.0, 1.0, 1.0])}
    ft = {"label": np.array([0.5, 1.0, 1.0, 1.5]), "weighted": np.array([1.0, 2.0, 3.0, 4.0]),
          "spmax": np.array([1.0, 1.0, 1.0, 1.0])}
    row = table2_1_row(a, ft)
    assert list(row) == [f"{m} {f}" for m in METHODS.values() for f in ("0.1", "0.25", "0.5", "1.0")]
    # label: MCAuE alexnet 1, 1, 1.5, 3 and ft 0.5, 0.5, 0.75, 1 (1 and 2 of 4 filters, then all)
    assert [row[f"Label-Entropy {f}"] for f in (0.1, 0.25, 0.5, 1.0)] == pytest.approx(
        [50.0, 50.0, 50.0, 100 * 2 / 3])
    # weighted: alexnet 2 throughout; ft 1, 1, 1.5, 2.5 -> an increase is negative
    assert [row[f"Weighted-Label-Entropy {f}"] for f in (0.1, 0.25, 0.5, 1.0)] == pytest.approx(
        [50.0, 50.0, 25.0, -25.0])
    assert all(row[f"spMax-Label-Entropy {f}"] == 0.0 for f in (0.1, 0.25, 0.5, 1.0))


def test_table2_1_columns_are_the_thesis_columns():
    from layerwise.reference import load_reference_table

    ones = {k: np.ones(3) for k in METHODS}
    assert list(table2_1_row(ones, ones)) == load_reference_table("table2_1").columns.tolist()
