"""Feature ablations of thesis §5 (Fig 5-1), pure functions over (N, C, H, W) arrays.

unroll = flatten; sp-shuffle = an independent random permutation of the
spatial positions of every feature map of every sample; sp-max = max over
positions per channel; bin = 1 where the activation is > 0 else 0;
sp-max-bin = bin of sp-max (SPEC §9).
"""

import numpy as np


def unroll(x):
    """Flatten (N, C, H, W) to (N, C*H*W): the un-ablated features (§5, Table 5.1)."""
    return x.reshape(len(x), -1)


def sample_permutations(n, c, positions, seed, start=0):
    """(n, c, positions) spatial permutations; sample i uses its own stream (seed, start + i).

    One generator per sample makes the result independent of how samples are
    split into blocks, so streaming a file block by block gives the same
    features as ablating it whole.
    """
    base = np.tile(np.arange(positions), (c, 1))
    perms = np.empty((n, c, positions), dtype=np.intp)
    for i in range(n):
        perms[i] = np.random.default_rng([seed, start + i]).permuted(base, axis=1)
    return perms


def sp_shuffle(x, seed, start=0):
    """sp-shuffle (§5.1, Fig 5-1b): permute the H*W positions of every map independently.

    Every feature map of every sample gets its own uniformly random
    permutation, seeded by ``(seed, start + sample index)``; ``start`` is the
    index of the first sample of ``x`` in the whole dataset.
    """
    n, c, h, w = x.shape
    index = sample_permutations(n, c, h * w, seed, start)
    # a flat gather is faster than take_along_axis, which builds index grids
    index += (np.arange(n * c) * (h * w)).reshape(n, c, 1)
    return np.take(x.reshape(-1), index).reshape(x.shape)


def sp_max(x):
    """sp-max (§5.1, Fig 5-1c): the maximum over spatial positions, (N, C, H, W) -> (N, C)."""
    return x.max(axis=(2, 3))


def binarize(x):
    """bin (§5.2, Fig 5-1d): 1 where the activation is > 0, else 0, in x's dtype."""
    return (x > 0).astype(x.dtype)


def sp_max_bin(x):
    """sp-max-bin (§5, Fig 5-1): binarized sp-max, (N, C, H, W) -> (N, C)."""
    return binarize(sp_max(x))


ABLATIONS = {
    "unroll": lambda x, seed, start: x,
    "sp-shuffle": sp_shuffle,
    "sp-max": lambda x, seed, start: sp_max(x),
    "sp-max-bin": lambda x, seed, start: sp_max_bin(x),
    "bin": lambda x, seed, start: binarize(x),
}


def ablate(x, name, seed=0, start=0):
    """Apply the ablation called ``name`` (Table 5.1 column names) and flatten to (N, D).

    ``seed`` and ``start`` only matter for sp-shuffle (see :func:`sp_shuffle`).
    """
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r}; choose from {sorted(ABLATIONS)}")
    return unroll(ABLATIONS[name](x, seed, start))
