"""Ablations (thesis §5, Fig 5-1) against brute-force Python loops."""

import numpy as np
import pytest

from layerwise.analysis.ablations import (
    ablate,
    binarize,
    sp_max,
    sp_max_bin,
    sp_shuffle,
    unroll,
)


def features(shape=(4, 3, 2, 3), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    x[x < 0] = 0  # post-ReLU, with exact zeros
    return x


def test_unroll_matches_loop():
    x = features()
    n, c, h, w = x.shape
    expected = np.array(
        [[x[i, ch, r, q] for ch in range(c) for r in range(h) for q in range(w)] for i in range(n)]
    )
    np.testing.assert_array_equal(unroll(x), expected)


def test_sp_max_and_bin_match_loops():
    x = features()
    n, c, h, w = x.shape
    mx = np.array([[max(x[i, ch].ravel()) for ch in range(c)] for i in range(n)])
    np.testing.assert_array_equal(sp_max(x), mx)
    bx = np.array([[[[1.0 if v > 0 else 0.0 for v in row] for row in m] for m in s] for s in x])
    np.testing.assert_array_equal(binarize(x), bx)
    assert binarize(x).dtype == x.dtype
    np.testing.assert_array_equal(sp_max_bin(x), (mx > 0).astype(np.float32))


def test_binarize_treats_zero_and_negative_as_off():
    np.testing.assert_array_equal(binarize(np.array([-1.0, 0.0, 1e-30, 3.0])), [0, 0, 1, 1])


def test_sp_shuffle_preserves_each_map_and_permutes_independently():
    x = np.arange(6 * 5 * 3 * 3, dtype=np.float32).reshape(6, 5, 3, 3)  # all values distinct
    y = sp_shuffle(x, seed=1)
    assert y.shape == x.shape and y.dtype == x.dtype
    perms = set()
    for i in range(6):
        for c in range(5):
            src, dst = x[i, c].ravel(), y[i, c].ravel()
            assert sorted(src) == sorted(dst)  # same multiset, nothing crosses maps
            perms.add(tuple(int(v) for v in dst - src.min()))
    # 30 maps of 9 positions: independent permutations are (almost surely) all distinct
    assert len(perms) == 30
    assert not np.array_equal(y, x)


def test_sp_shuffle_is_seeded_and_block_invariant():
    x = features((7, 4, 3, 3))
    a = sp_shuffle(x, seed=3)
    np.testing.assert_array_equal(a, sp_shuffle(x, seed=3))
    assert not np.array_equal(a, sp_shuffle(x, seed=4))
    blocks = np.concatenate([sp_shuffle(x[:3], 3, start=0), sp_shuffle(x[3:], 3, start=3)])
    np.testing.assert_array_equal(a, blocks)


def test_sp_shuffle_is_uniform_over_permutations():
    # 3 positions -> 6 permutations; 6000 maps: each near 1000 (binomial sd ~ 29)
    x = np.broadcast_to(np.arange(3, dtype=np.float32).reshape(1, 1, 1, 3), (200, 30, 1, 3))
    y = sp_shuffle(np.ascontiguousarray(x), seed=0).reshape(-1, 3)
    _, counts = np.unique(y, axis=0, return_counts=True)
    assert len(counts) == 6 and counts.min() > 850 and counts.max() < 1150


def test_ablate_names_and_shapes():
    x = features((2, 3, 2, 2))
    assert ablate(x, "unroll").shape == (2, 12)
    assert ablate(x, "sp-shuffle").shape == (2, 12)
    np.testing.assert_array_equal(ablate(x, "sp-max"), sp_max(x))
    np.testing.assert_array_equal(ablate(x, "sp-max-bin"), sp_max_bin(x))
    np.testing.assert_array_equal(ablate(x, "bin"), unroll(binarize(x)))
    with pytest.raises(ValueError, match="unknown ablation"):
        ablate(x, "sp-min")
