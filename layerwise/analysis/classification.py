"""One-vs-rest linear SVM classification (thesis §1.2, §2.4, §4, §5; SPEC §9).

Image classification: one linear SVM per VOC class on trainval whole-image
features, AP on test; a sample labelled 0 for a class (present only as
difficult) is left out of that class, in training and in test. GT-box
classification is the same with one class index per box, turned into 1 / -1.

Memory. Features are read in sample blocks and held as one float32 (N, D)
train matrix; the test set is only ever scored block by block. liblinear
needs float64: scikit-learn's LinearSVC validates its input to float64 (its
C helper could read float32, but only the private ``_fit_liblinear`` would
let it) and liblinear then copies every non-zero value into its own list of 16-byte
``feature_node`` records (zeros are skipped, for dense and sparse input
alike). No option avoids that list, so the least-copy route is to hand
LinearSVC a float64 matrix it accepts without copying, built block by block
from the float32 rows of the class: CSR (12 bytes per non-zero) when at most
2/3 of the values are non-zero (ReLU features usually), dense float64
(8 bytes per value) otherwise. Peak while one class trains, with d the
fraction of non-zeros, D features, N train samples and N_c of them kept:

    4 N D  +  min(12 d, 8) N_c D  +  16 d N_c D   bytes.

At paper scale, pool1 (N = 5011, D = 69,984, d = 0.5 say) that is
1.4 GB + 2.1 GB + 2.8 GB, about 6.3 GB; dense float64 at d = 1 would be
1.4 + 2.8 + 5.6 = 9.8 GB. Both routes give the same liblinear problem, so
the same model.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from .ablations import ablate
from .ap import average_precision

DEFAULT_MEMORY = 1 << 29
COPY_BYTES = 1 << 26  # float32 rows gathered per step when building float64 copies
SPARSE_DENSITY = 2 / 3  # CSR float64 (12 B per non-zero) beats dense (8 B per value) below


class ClassificationResult(NamedTuple):
    ap: np.ndarray  # per-class AP, percent
    mean_ap: float  # mAP, percent
    C: float  # the C used for the final SVMs
    validation: dict  # C -> validation mAP (percent); empty without a sweep


def label_matrix(labels, n_classes=None):
    """(N, K) int8 matrix of 1 / -1 / 0 (§1.2, §2.4).

    A 2-D input is the VOC image labels and is checked; a 1-D input is one
    class index per gt box, turned into one-vs-rest 1 / -1 over ``n_classes``.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if not np.isin(labels, (-1, 0, 1)).all():
            raise ValueError("image labels must be 1, -1 or 0")
        return labels.astype(np.int8)
    if labels.ndim != 1 or n_classes is None:
        raise ValueError("give an (N, K) 1/-1/0 matrix, or class indices and n_classes")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes})")
    return np.where(labels[:, None] == np.arange(n_classes), 1, -1).astype(np.int8)


def _ablated(x, ablation, seed, start):
    """(n, D) float32 features of a block after the ablation (§5)."""
    if ablation is None:
        out = x
    elif isinstance(ablation, str):
        out = ablate(x, ablation, seed, start)
    else:
        out = ablation(x)
    return np.asarray(out, dtype=np.float32).reshape(len(x), -1)


def iter_feature_blocks(features, memory_bytes=DEFAULT_MEMORY, ablation=None, seed=0, start=0):
    """Yield (first row, (n, D) float32 block) over samples, ablated and flattened.

    ``features`` is (N, ...) with numpy slicing (an h5py Dataset works). A
    block holds as many samples as fit in ``memory_bytes`` counting the file
    copy, the float32 copy, the ablated copy and sp-shuffle's index array.
    ``start`` numbers the samples for sp-shuffle (train 0.., test after it).
    """
    per_sample = int(np.prod(features.shape[1:])) * (np.dtype(features.dtype).itemsize + 16)
    step = max(1, memory_bytes // per_sample)
    for a in range(0, len(features), step):
        block = np.asarray(features[a : a + step]).astype(np.float32, copy=False)
        yield a, _ablated(block, ablation, seed, start + a)


def load_features(features, memory_bytes=DEFAULT_MEMORY, ablation=None, seed=0, start=0):
    """The whole (N, D) float32 feature matrix, read block by block (never float64)."""
    out = None
    for a, block in iter_feature_blocks(features, memory_bytes, ablation, seed, start):
        if out is None:
            out = np.empty((len(features), block.shape[1]), dtype=np.float32)
        out[a : a + len(block)] = block
    return out


def _row_steps(X, rows):
    step = max(1, COPY_BYTES // (4 * X.shape[1]))
    return [rows[a : a + step] for a in range(0, len(rows), step)]


def float64_design(X, rows, sparse=None):
    """float64 copy of X[rows] in the form LinearSVC takes without copying again.

    CSR when ``sparse`` (default: when at most 2/3 of the values are
    non-zero), else dense; built from bounded float32 row blocks.
    """
    steps = _row_steps(X, rows)
    nnz_per_row = np.concatenate([np.count_nonzero(X[r], axis=1) for r in steps])
    nnz = int(nnz_per_row.sum())
    if sparse is None:
        sparse = nnz <= SPARSE_DENSITY * len(rows) * X.shape[1]
    if not sparse or nnz >= 2**31:  # LinearSVC takes 32-bit sparse indices only
        out, a = np.empty((len(rows), X.shape[1])), 0
        for r in steps:
            out[a : a + len(r)] = X[r]
            a += len(r)
        return out
    indptr = np.concatenate([[0], np.cumsum(nnz_per_row)]).astype(np.int32)
    data, indices, a = np.empty(nnz), np.empty(nnz, dtype=np.int32), 0
    for r in steps:
        block = X[r]
        i, j = np.nonzero(block)  # row-major, as CSR stores it
        data[a : a + len(j)], indices[a : a + len(j)] = block[i, j], j
        a += len(j)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), X.shape[1]))


def fit_svm(X, y, C, seed=0, rows=None, sparse=None):
    """Linear SVM (liblinear, L2-regularised squared hinge, dual) on X[rows] with ±1 y.

    Returns (w, b) with w of shape (D,) in float64. liblinear's defaults as in
    scikit-learn (tol 1e-4, at most 1000 iterations, bias as an extra
    regularised feature); ``seed`` fixes its coordinate order.
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    svm = LinearSVC(C=C, dual=True, random_state=seed)
    svm.fit(float64_design(X, rows, sparse), y)
    return svm.coef_.ravel(), float(svm.intercept_[0])


def _class_name(classes, k):
    return classes[k] if classes is not None else k


def train_svms(X, Y, C, classes=None, seed=0, rows=None):
    """One-vs-rest SVMs (§1.2): per class, rows labelled 0 are left out.

    Returns W (K, D) and b (K,) in float64. Raises ValueError naming a class
    whose kept training rows lack positives or negatives.
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    W, b = np.zeros((Y.shape[1], X.shape[1])), np.zeros(Y.shape[1])
    for k in range(Y.shape[1]):
        y = Y[rows, k]
        kept = rows[y != 0]
        y = y[y != 0]
        if not ((y > 0).any() and (y < 0).any()):
            raise ValueError(f"class {_class_name(classes, k)!r} needs positive and negative "
                             "training samples")
        W[k], b[k] = fit_svm(X, y, C, seed, kept)
    return W, b


def decision_values(X, W, b, rows=None):
    """SVM scores (n, K) of the in-memory float32 rows X[rows], in bounded blocks."""
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    return np.concatenate([X[r].astype(np.float64) @ W.T + b for r in _row_steps(X, rows)])


def score_features(features, W, b, memory_bytes=DEFAULT_MEMORY, ablation=None, seed=0, start=0):
    """SVM scores (N, K) of features streamed from an array or HDF5 dataset."""
    blocks = iter_feature_blocks(features, memory_bytes, ablation, seed, start)
    return np.concatenate([block.astype(np.float64) @ W.T + b for _, block in blocks])


def ap_per_class(scores, Y, classes=None):
    """VOC2007 AP (percent) per class; samples labelled 0 for a class are ignored."""
    return np.array([100.0 * average_precision(scores[:, k], Y[:, k], _class_name(classes, k))
                     for k in range(Y.shape[1])])


def select_C(X, Y, Cs, val_fraction=0.2, seed=0, classes=None):
    """Pick C by mean validation AP on a seeded held-out part of train.

    Train on a (1 - val_fraction) random part of the rows for each C, score
    the rest. Classes without positives or negatives to train on, or without
    a positive in the held-out part, are left out of the mean (the same
    classes for every C). Ties go to the first C in ``Cs``. Returns
    (C, {C: mean validation AP in percent}).
    """
    order = np.random.default_rng(seed).permutation(len(X))
    n_val = max(1, int(round(val_fraction * len(X))))
    val, fit = np.sort(order[:n_val]), np.sort(order[n_val:])
    usable = [k for k in range(Y.shape[1])
              if (Y[fit, k] > 0).any() and (Y[fit, k] < 0).any() and (Y[val, k] > 0).any()]
    if not usable:
        raise ValueError("no class has positives on both sides of the validation split")
    Yu = Y[:, usable]
    names = None if classes is None else [classes[k] for k in usable]
    scores = {}
    for C in Cs:
        W, b = train_svms(X, Yu, C, names, seed, fit)
        scores[C] = float(ap_per_class(decision_values(X, W, b, val), Yu[val], names).mean())
    return max(scores, key=scores.get), scores


def feature_scale(X, target_norm):
    """The factor that brings the mean L2 norm of the rows of X to `target_norm` (1 if all zero)."""
    mean_norm = float(np.linalg.norm(X, axis=1).mean()) if len(X) else 0.0
    return target_norm / mean_norm if mean_norm > 0 else 1.0


def classification_ap(train_features, train_labels, test_features, test_labels, C=None, *,
                      Cs=None, n_classes=None, classes=None, ablation=None, seed=0,
                      val_fraction=0.2, memory_bytes=DEFAULT_MEMORY, target_norm=None):
    """Per-class AP and mAP (percent) of one-vs-rest linear SVMs (§1.2, §2.4, §4, §5).

    Labels: an (N, K) 1 / -1 / 0 matrix (images) or class indices with
    ``n_classes`` (gt boxes). ``ablation``: None, a Table 5.1 name (see
    :mod:`.ablations`) or a sample-wise callable on (n, C, H, W) float32
    blocks; applied to train and test alike, test samples numbered after
    train for sp-shuffle. With ``Cs`` the C is chosen by :func:`select_C`
    (``C`` is then ignored); otherwise ``C`` is used. With ``target_norm`` the
    features are scaled so that the mean L2 norm of the training vectors is
    ``target_norm`` (R-CNN's rcnn_scale_features), which makes one C fit every
    layer and keeps liblinear's convergence fast.
    """
    if Cs is None and C is None:
        raise ValueError("give C, or a list Cs to choose from")
    Y_train = label_matrix(train_labels, n_classes)
    Y_test = label_matrix(test_labels, n_classes)
    X = load_features(train_features, memory_bytes, ablation, seed)
    scale = 1.0
    if target_norm is not None:
        scale = feature_scale(X, target_norm)
        X *= scale
    validation = {}
    if Cs is not None:
        C, validation = select_C(X, Y_train, Cs, val_fraction, seed, classes)
    W, b = train_svms(X, Y_train, C, classes, seed)
    n_train = len(X)
    del X
    # Scaling the test features by `scale` is scaling the weights by it: scores are linear.
    scores = score_features(test_features, W * scale, b, memory_bytes, ablation, seed, n_train)
    ap = ap_per_class(scores, Y_test, classes)
    return ClassificationResult(ap, float(ap.mean()), C, validation)
