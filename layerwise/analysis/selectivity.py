"""Filter selectivity measured by entropy (thesis §2.2-2.3; SPEC §9 Entropy).

For one filter, every spatial position of every box carries the box's class.
At threshold t the class histogram of the positions scoring >= t is formed
(label entropy), or the scores are summed instead of counted (weighted-label
entropy), or each box contributes only its spatial max (spMax-label entropy).
Thresholds are t_k = (m * k) / T in float64, k = 0..T-1, m the filter's maximum
over the dataset, so every set is non-empty. The entropy (bits) against k is
the entropy curve; AuE = (1/T) sum_k H(t_k). A filter with m <= 0 is dead: its
three AuE are the entropy of the class distribution of all its positions.

All thresholds are handled at once: each value goes to the bucket
max{k : v >= t_k}; one ``np.bincount`` over (class, bucket) and a reverse
cumulative sum over buckets give the histogram at every threshold. float16
dumps (the default) skip the per-value bucketing: one ``np.bincount`` over
(class, float16 bit pattern) is bucketed pattern by pattern instead.
"""

import math

import numpy as np

DEFAULT_T = 100
MAX_T = 100_000  # float32 error in v*T/m stays far below one bucket up to here
CHUNK = 1 << 16  # values per vectorised step: temporaries stay cache-sized
CHUNK_BYTES = CHUNK * 48  # generous bound on the temporaries of one step


def thresholds(m, T=DEFAULT_T):
    """Thresholds t_k = (m * k) / T, k = 0..T-1, in float64 (§2.2)."""
    return float(m) * np.arange(T) / T


def _float32_ceil(t):
    """Smallest float32 >= each float64 t, so that for float32 v: v >= t <=> v >= result."""
    t32 = t.astype(np.float32)
    low = t32.astype(np.float64) < t
    t32[low] = np.nextafter(t32[low], np.float32(np.inf))
    return t32


def _bucket_tables(m, T):
    """Lower and upper threshold of each bucket (float32-exact) and the scale T / m."""
    lower = _float32_ceil(thresholds(m, T))
    upper = np.append(lower[1:], np.float32(np.inf))
    return lower, upper, T / float(m)


def _buckets(v, tables, T):
    """max{k : v >= t_k} for float32 v, -1 where v < t_0 = 0.

    floor(v * T / m) is computed in float32 and can miss by one bucket when
    v * T / m is (nearly) an integer; one comparison with the exact
    thresholds on each side puts every value where a direct ``v >= t_k``
    would.
    """
    lower, upper, scale = tables
    if scale < 1e30:
        q = v * np.float32(scale)
    else:  # m so small that T / m overflows float32
        q = v.astype(np.float64) * scale
    b = np.clip(q, 0, T - 1, out=q).astype(np.intp)  # clip first: the cast must not overflow
    b -= v < lower[b]
    b += v >= upper[b]
    return b


def threshold_buckets(values, m, T=DEFAULT_T):
    """Bucket of each value: the largest k with value >= t_k (-1 if none); §2.2.

    A value counts at threshold t_k exactly when its bucket is >= k. With
    m <= 0 every t_k is 0, so values >= 0 are in the last bucket.
    """
    v = np.asarray(values, dtype=np.float32)
    if m <= 0:
        return np.where(v >= 0, T - 1, -1).astype(np.intp)
    return _buckets(v, _bucket_tables(m, T), T)


def _bucket_counts(values, offsets, m, K, T, weighted):
    """Per (class, bucket) counts (and value sums) of flat float32 values.

    ``offsets`` = class * T for every value. Works in cache-sized chunks.
    """
    counts = np.zeros(K * T, dtype=np.int64)
    sums = np.zeros(K * T) if weighted else None
    tables = None if m <= 0 else _bucket_tables(m, T)
    for a in range(0, values.size, CHUNK):
        v, off = values[a : a + CHUNK], offsets[a : a + CHUNK]
        b = threshold_buckets(v, m, T) if tables is None else _buckets(v, tables, T)
        if v.min() < 0:  # below t_0 = 0: in no histogram (scores are ReLU outputs)
            keep = b >= 0
            v, off, b = v[keep], off[keep], b[keep]
        b += off
        counts += np.bincount(b, minlength=K * T)
        if weighted:
            sums += np.bincount(b, weights=v, minlength=K * T)
    return counts.reshape(K, T), None if sums is None else sums.reshape(K, T)


def at_thresholds(bucket_hist):
    """Reverse cumulative sum over buckets: (..., T) bucket counts -> counts of v >= t_k."""
    return np.cumsum(bucket_hist[..., ::-1], axis=-1)[..., ::-1]


def class_histograms(scores, classes, n_classes, T=DEFAULT_T, weighted=False):
    """(K, T) class histogram at every threshold of one filter (§2.2, §3.2).

    ``scores`` is (N,) or (N, ...): every entry of sample i carries class
    ``classes[i]``. Entry (c, k) counts the entries of class c scoring
    >= t_k (or sums their scores when ``weighted``); m = scores.max().
    """
    classes = _check_classes(classes, n_classes)
    v = np.asarray(scores, dtype=np.float32).reshape(len(classes), -1)
    offsets = np.repeat(classes * T, v.shape[1])
    counts, sums = _bucket_counts(v.ravel(), offsets, float(v.max()), n_classes, T, weighted)
    return at_thresholds(sums if weighted else counts)


def entropy_bits(hist, axis=0):
    """Shannon entropy (bits) of histograms along ``axis``, normalised here; 0 log 0 = 0."""
    hist = np.asarray(hist, dtype=np.float64)
    p = hist / hist.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0)
    return -terms.sum(axis=axis) + 0.0  # + 0.0 turns -0.0 into 0.0


def area_under_entropy(curve):
    """AuE = (1/T) sum_k H(t_k) over the last axis (§2.2.1)."""
    return np.asarray(curve, dtype=np.float64).mean(axis=-1)


def _check_classes(labels, n_classes):
    classes = np.asarray(labels)
    if classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError("labels must be a 1-D array of class indices")
    if classes.size and (classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes})")
    return classes.astype(np.intp)


def _dead_curves(classes, n_classes, T):
    """A filter that never fires (m <= 0): the entropy of the class distribution of all its
    positions at every threshold, for all three methods."""
    return np.full((3, T), entropy_bits(np.bincount(classes, minlength=n_classes)))


def filter_entropy_curves(v, classes, n_classes, T=DEFAULT_T):
    """Label, weighted-label and spMax-label entropy curves of one filter (§2.2).

    ``v`` is the filter's (N, P) scores (P = H*W positions per box), float16
    (many of them: handled by :func:`_float16_entropy_curves`) or anything
    numpy turns into float32. Returns (m, curves) with curves of shape (3, T) in that order. A
    dead filter (m <= 0) gets the entropy of the class distribution of all
    its positions at every threshold, for all three methods.
    """
    classes = _check_classes(classes, n_classes)
    # The float16 table costs about as much as bucketing its K * 2^16 cells' worth of values:
    # worth it for wide maps (pool1-conv4), not for a few values per channel (fc layers).
    if v.dtype == np.float16 and v.size >= n_classes * F16_CODES:
        return _float16_entropy_curves(v, classes, n_classes, T)
    v = np.asarray(v, dtype=np.float32)
    m = float(v.max())
    if not math.isfinite(m):
        raise ValueError("non-finite activation")
    if m <= 0:
        return m, _dead_curves(classes, n_classes, T)
    offsets = np.repeat(classes * T, v.shape[1])
    counts, sums = _bucket_counts(v.reshape(-1), offsets, m, n_classes, T, True)
    box_counts, _ = _bucket_counts(v.max(axis=1), classes * T, m, n_classes, T, False)
    hists = at_thresholds(np.stack([counts, sums, box_counts]))  # (3, K, T)
    return m, entropy_bits(hists, axis=1)


# float16 scores take one of 2^16 bit patterns: their float32 values, and which are finite.
F16_CODES = 1 << 16
F16_VALUES = np.arange(F16_CODES, dtype=np.uint16).view(np.float16).astype(np.float32)
F16_FINITE = np.isfinite(F16_VALUES)


def _float16_entropy_curves(v, classes, n_classes, T):
    """:func:`filter_entropy_curves` of float16 scores (the default dump dtype, SPEC §8).

    A float16 score is one of 2^16 bit patterns, so one ``np.bincount`` over
    (class, bit pattern) counts every value of the channel; the bucket of each
    pattern and its float32 value then give the label and weighted histograms
    from that (K, 2^16) table alone, with the same float32 comparisons as the
    general path. A box's spatial max is the max of its patterns read as
    int16, which orders non-negative floats exactly.
    """
    N, P = v.shape
    codes = v.view(np.uint16)
    index = codes.astype(np.intp)
    index += (classes * F16_CODES)[:, None]
    table = np.bincount(index.reshape(-1), minlength=n_classes * F16_CODES)
    table = table.reshape(n_classes, F16_CODES)
    del index
    present = table.any(axis=0)
    if (present & ~F16_FINITE).any():
        raise ValueError("non-finite activation")
    m = float(F16_VALUES[present].max())
    if m <= 0:
        return m, _dead_curves(classes, n_classes, T)
    bucket = np.full(F16_CODES, -1)
    bucket[F16_FINITE] = threshold_buckets(F16_VALUES[F16_FINITE], m, T)
    keep = bucket >= 0  # below t_0 = 0: in no histogram
    cells = (np.arange(n_classes)[:, None] * T + bucket[keep]).reshape(-1)
    counts = np.bincount(cells, weights=table[:, keep].reshape(-1), minlength=n_classes * T)
    sums = np.bincount(cells, weights=(table[:, keep] * F16_VALUES[keep].astype(np.float64))
                       .reshape(-1), minlength=n_classes * T)
    box_max = codes.view(np.int16).max(axis=1).view(np.uint16)
    # a box with no non-negative score has a negative int16 maximum: take its exact float max
    odd = box_max >= 0x8000
    spmax = F16_VALUES[box_max]
    spmax[odd] = v[odd].astype(np.float32).max(axis=1)
    box_counts, _ = _bucket_counts(spmax, classes * T, m, n_classes, T, False)
    hists = at_thresholds(np.stack([counts.reshape(n_classes, T), sums.reshape(n_classes, T),
                                    box_counts]))
    return m, entropy_bits(hists, axis=1)


def _channel_block_size(features, N, P, memory_bytes, n_classes):
    """Channels per read so that the file block and the fixed costs fit in the budget."""
    per_channel = N * P * np.dtype(features.dtype).itemsize
    # a float32 channel and its class offsets (float16: the bit patterns offset by class, and
    # the (class, pattern) table with two working copies); chunk temporaries
    fixed = N * P * (4 + 8) + 3 * n_classes * F16_CODES * 8 + CHUNK_BYTES
    if memory_bytes < fixed + per_channel:
        need = fixed + per_channel
        raise ValueError(f"memory budget {memory_bytes} B too small: one channel needs {need} B")
    n = (memory_bytes - fixed) // per_channel
    chunks = getattr(features, "chunks", None)
    if chunks and n >= chunks[1]:  # whole HDF5 chunks: none is read twice
        n -= n % chunks[1]
    return int(n)


def filter_entropies(features, labels, n_classes, T=DEFAULT_T, memory_bytes=1 << 30,
                     return_curves=False, progress=None):
    """AuE of every filter of a layer by the three entropy methods (§2.2-2.3, Table 2.1).

    ``features``: (N, C, H, W) array-like with numpy slicing (an h5py Dataset
    works), read in blocks of whole channels so that one block (in the file's
    dtype) and the work arrays of one channel stay within ``memory_bytes``. ``labels``: (N,) class index per box.

    Returns a dict of (C,) arrays ``aue_label``, ``aue_weighted``,
    ``aue_spmax``, ``dead`` (m <= 0) and ``max`` (m); with ``return_curves``
    also ``curve_label``, ``curve_weighted``, ``curve_spmax`` and
    ``thresholds``, each (C, T). ``progress`` wraps the loop over channel
    blocks (e.g. :func:`layerwise.runtime.progress`) so long jobs report.
    """
    if not 1 <= T <= MAX_T:
        raise ValueError(f"T must lie in [1, {MAX_T}]")
    N, C, H, W = features.shape
    P = H * W
    classes = _check_classes(labels, n_classes)
    if len(classes) != N:
        raise ValueError(f"{len(classes)} labels for {N} samples")
    maxima, curves = np.zeros(C), np.zeros((C, 3, T))
    step = _channel_block_size(features, N, P, memory_bytes, n_classes)
    blocks = range(0, C, step)
    for c0 in blocks if progress is None else progress(blocks, desc="channel blocks"):
        block = np.asarray(features[:, c0 : c0 + step])
        for j in range(block.shape[1]):
            # one channel at a time, a view: the block stays in the file's dtype
            maxima[c0 + j], curves[c0 + j] = filter_entropy_curves(
                block[:, j].reshape(N, P), classes, n_classes, T)
        del block  # and no view of it outlives the loop: two blocks would not fit the budget
    aue = area_under_entropy(curves)
    result = {"aue_label": aue[:, 0], "aue_weighted": aue[:, 1], "aue_spmax": aue[:, 2],
              "dead": maxima <= 0, "max": maxima}
    if return_curves:
        result.update(curve_label=curves[:, 0], curve_weighted=curves[:, 1],
                      curve_spmax=curves[:, 2],
                      thresholds=np.stack([thresholds(max(m, 0.0), T) for m in maxima]))
    return result


def mcaue(aue):
    """Mean cumulative AuE (§2.2.1): entry i-1 is the mean of the i smallest AuE, i = 1..F."""
    ordered = np.sort(np.asarray(aue, dtype=np.float64))
    return np.cumsum(ordered) / np.arange(1, ordered.size + 1)


def mcaue_at(aue, fractions=(0.1, 0.25, 0.5, 1.0)):
    """MCAuE of the ceil(f * F) most selective filters for each fraction f (Table 2.1)."""
    curve = mcaue(aue)
    idx = [min(max(math.ceil(f * curve.size - 1e-9), 1), curve.size) - 1 for f in fractions]
    return curve[idx]


def percent_decrease(mcaue_a, mcaue_ft):
    """Percent decrease of MCAuE by fine-tuning, eq. 2.1: 100 (a - ft) / a."""
    mcaue_a = np.asarray(mcaue_a, dtype=np.float64)
    return 100.0 * (mcaue_a - np.asarray(mcaue_ft, dtype=np.float64)) / mcaue_a


# Table 2.1's column groups (thesis' names) and filter fractions.
METHODS = {"label": "Label-Entropy", "weighted": "Weighted-Label-Entropy",
           "spmax": "spMax-Label-Entropy"}
FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def table2_1_row(aue_alexnet, aue_ft, fractions=FRACTIONS):
    """One layer of Table 2.1: {"<method> <fraction>": percent decrease of MCAuE} (§2.3, eq. 2.1).

    ``aue_alexnet`` and ``aue_ft`` map each key of :data:`METHODS` to the
    (F,) AuE of every filter, dead ones included: a filter that never fires
    keeps its (high) AuE instead of being dropped, so both networks are
    compared over all their filters.
    """
    row = {}
    for key, method in METHODS.items():
        change = percent_decrease(mcaue_at(aue_alexnet[key], fractions),
                                  mcaue_at(aue_ft[key], fractions))
        row.update({f"{method} {f}": value for f, value in zip(fractions, change)})
    return row
