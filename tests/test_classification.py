"""One-vs-rest SVM classification (thesis §1.2, §2.4, §5) against direct scikit-learn use."""

import h5py
import numpy as np
import pytest
from sklearn.svm import LinearSVC

from layerwise.analysis.ablations import ablate
from layerwise.analysis.ap import average_precision
from layerwise.analysis.classification import (
    classification_ap,
    fit_svm,
    float64_design,
    label_matrix,
    load_features,
    select_C,
    train_svms,
)

K = 3


def dataset(seed, n=48, shape=(4, 2, 2)):
    """ReLU-like features whose channels carry the classes, with image labels 1/-1/0."""
    rng = np.random.default_rng(seed)
    Y = np.where(rng.random((n, K)) < 0.35, 1, -1)
    Y[np.arange(n), rng.integers(0, K, n)] = 1
    Y[rng.random((n, K)) < 0.1] = 0  # "difficult only"
    x = rng.normal(size=(n,) + shape)
    x[:, :K] += 1.2 * (Y == 1)[:, :, None, None]
    return np.maximum(x, 0).astype(np.float32), Y.astype(np.int8)


def reference(train_x, Y_train, test_x, Y_test, C):
    """Per class: LinearSVC on the float64 rows not labelled 0, AP on test rows not labelled 0."""
    Xtr = train_x.reshape(len(train_x), -1).astype(np.float64)
    Xte = test_x.reshape(len(test_x), -1).astype(np.float64)
    aps = []
    for k in range(K):
        keep = Y_train[:, k] != 0
        svm = LinearSVC(C=C, dual=True, random_state=0).fit(Xtr[keep], Y_train[keep, k])
        aps.append(100 * average_precision(svm.decision_function(Xte), Y_test[:, k]))
    return np.array(aps)


def test_label_matrix():
    np.testing.assert_array_equal(label_matrix([2, 0], 3), [[-1, -1, 1], [1, -1, -1]])
    Y = np.array([[1, 0, -1]])
    np.testing.assert_array_equal(label_matrix(Y), Y)
    with pytest.raises(ValueError):
        label_matrix([[2, 1, 0]])
    with pytest.raises(ValueError):
        label_matrix([3], 3)
    with pytest.raises(ValueError):
        label_matrix([0, 1])


def test_matches_per_class_sklearn_and_devkit_ap():
    train_x, Y_train = dataset(0)
    test_x, Y_test = dataset(1)
    res = classification_ap(train_x, Y_train, test_x, Y_test, C=0.1)
    expected = reference(train_x, Y_train, test_x, Y_test, 0.1)
    np.testing.assert_allclose(res.ap, expected, atol=1e-9)
    assert res.mean_ap == pytest.approx(expected.mean())
    assert res.C == 0.1 and res.validation == {}
    assert 60 < res.mean_ap <= 100  # the classes are learnable


def test_zero_labelled_rows_do_not_touch_their_class():
    X, Y = dataset(2)
    X = X.reshape(len(X), -1)
    W, b = train_svms(X, Y, 0.1)
    X2 = X.copy()
    X2[Y[:, 0] == 0] = 3.0  # wild features on the rows ignored by class 0 only
    W2, b2 = train_svms(X2, Y, 0.1)
    np.testing.assert_array_equal(W2[0], W[0])
    assert b2[0] == b[0]
    assert not np.allclose(W2[1], W[1])  # the other classes train on those rows


def test_gt_box_class_indices():
    rng = np.random.default_rng(3)
    cls_tr, cls_te = rng.integers(0, K, 40), rng.integers(0, K, 30)
    xtr = rng.normal(size=(40, K, 1, 1)).astype(np.float32)
    xte = rng.normal(size=(30, K, 1, 1)).astype(np.float32)
    xtr[np.arange(40), cls_tr] += 2
    xte[np.arange(30), cls_te] += 2
    res = classification_ap(xtr, cls_tr, xte, cls_te, C=1.0, n_classes=K, classes=["a", "b", "c"])
    expected = reference(xtr, label_matrix(cls_tr, K), xte, label_matrix(cls_te, K), 1.0)
    np.testing.assert_allclose(res.ap, expected, atol=1e-9)


def test_sparse_and_dense_float64_copies_give_the_same_model():
    X, Y = dataset(4)
    X = X.reshape(len(X), -1)
    rows = np.flatnonzero(Y[:, 1] != 0)
    dense, sparse = float64_design(X, rows, sparse=False), float64_design(X, rows, sparse=True)
    assert dense.dtype == np.float64 and sparse.dtype == np.float64
    np.testing.assert_array_equal(dense, X[rows])
    np.testing.assert_array_equal(sparse.toarray(), X[rows])
    assert sparse.indices.dtype == np.int32  # accepted by LinearSVC without a copy
    y = Y[rows, 1]
    w_d, b_d = fit_svm(X, y, 0.3, rows=rows, sparse=False)
    w_s, b_s = fit_svm(X, y, 0.3, rows=rows, sparse=True)
    np.testing.assert_array_equal(w_d, w_s)
    assert b_d == b_s


@pytest.mark.parametrize("ablation", [None, "sp-shuffle", "sp-max", "bin", "sp-max-bin"])
def test_hdf5_streaming_equals_in_memory(tmp_path, ablation):
    train_x, Y_train = dataset(5, n=30, shape=(4, 3, 3))
    test_x, Y_test = dataset(6, n=30, shape=(4, 3, 3))
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train", data=train_x.astype(np.float16), chunks=(4, 4, 3, 3))
        f.create_dataset("test", data=test_x.astype(np.float16), chunks=(4, 4, 3, 3))
    tr16, te16 = train_x.astype(np.float16), test_x.astype(np.float16)
    with h5py.File(path) as f:
        # 7 samples per block: float16 file block + 16 B per value
        budget = 7 * 36 * 18
        streamed = load_features(f["train"], budget, ablation, seed=1)
        assert streamed.dtype == np.float32
        whole = tr16.astype(np.float32)
        expected = ablate(whole, ablation or "unroll", seed=1)
        np.testing.assert_array_equal(streamed, expected)
        res = classification_ap(f["train"], Y_train, f["test"], Y_test, C=0.5, ablation=ablation,
                                seed=1, memory_bytes=budget)
    in_memory = classification_ap(tr16, Y_train, te16, Y_test, C=0.5, ablation=ablation, seed=1)
    np.testing.assert_allclose(res.ap, in_memory.ap, atol=1e-9)


def test_sp_shuffle_numbers_test_samples_after_train():
    x, _ = dataset(7, n=5, shape=(3, 3, 3))
    a = load_features(x, ablation="sp-shuffle", seed=0, start=0)
    b = load_features(x, ablation="sp-shuffle", seed=0, start=5)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(b, ablate(x, "sp-shuffle", seed=0, start=5))


def test_callable_ablation():
    x, _ = dataset(8, n=6)
    out = load_features(x, ablation=lambda block: block[:, :2] * 2)
    np.testing.assert_array_equal(out, (x[:, :2] * 2).reshape(6, -1))


def test_validation_sweep_matches_a_manual_split():
    X, Y = dataset(9, n=60)
    X = X.reshape(len(X), -1)
    Cs = [1e-3, 0.1, 1.0]
    best, scores = select_C(X, Y, Cs, val_fraction=0.25, seed=4)
    order = np.random.default_rng(4).permutation(60)
    val, fit = np.sort(order[:15]), np.sort(order[15:])
    for C in Cs:
        aps = []
        for k in range(K):
            if not (Y[val, k] > 0).any():
                continue
            keep = fit[Y[fit, k] != 0]
            svm = LinearSVC(C=C, dual=True, random_state=4).fit(X[keep].astype(np.float64), Y[keep, k])
            aps.append(100 * average_precision(svm.decision_function(X[val].astype(np.float64)),
                                               Y[val, k]))
        assert scores[C] == pytest.approx(np.mean(aps), abs=1e-9)
    assert best == max(Cs, key=lambda C: (scores[C], -Cs.index(C)))
    assert select_C(X, Y, Cs, val_fraction=0.25, seed=4) == (best, scores)


def test_sweep_is_used_and_reported():
    train_x, Y_train = dataset(10, n=60)
    test_x, Y_test = dataset(11)
    res = classification_ap(train_x, Y_train, test_x, Y_test, Cs=[1e-4, 1.0], seed=2)
    assert set(res.validation) == {1e-4, 1.0}
    assert res.C == max(res.validation, key=res.validation.get)
    np.testing.assert_allclose(res.ap, reference(train_x, Y_train, test_x, Y_test, res.C), atol=1e-6)


def test_a_class_without_training_positives_is_named():
    X, Y = dataset(12)
    Y[:, 2] = -1
    with pytest.raises(ValueError, match="class 'tv'"):
        classification_ap(X, Y, X, Y, C=1.0, classes=["cat", "dog", "tv"])
    with pytest.raises(ValueError, match="give C"):
        classification_ap(X, Y, X, Y)


def test_fit_makes_no_float64_copy_beyond_the_design_matrix(monkeypatch):
    import tracemalloc

    from layerwise.analysis import classification

    monkeypatch.setattr(classification, "COPY_BYTES", 10 * 400 * 4)  # 10-row build steps
    rng = np.random.default_rng(13)
    X = np.maximum(rng.normal(size=(300, 400)), 0).astype(np.float32)  # half zeros -> CSR
    y = np.where(rng.random(300) < 0.5, 1, -1)
    design = float64_design(X, np.arange(300))
    design_bytes = design.data.nbytes + design.indices.nbytes + design.indptr.nbytes
    tracemalloc.start()
    fit_svm(X, y, 0.01)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the design itself plus small build steps; a second float64 copy inside
    # sklearn (or a whole-matrix temporary while building) would double it
    assert design_bytes < peak < 1.5 * design_bytes


def test_target_norm_scales_training_features_and_scores_consistently():
    """Scaling to a mean norm equals training on pre-scaled features and scoring them."""
    from layerwise.analysis.classification import classification_ap, feature_scale

    rng = np.random.default_rng(0)
    Xtr = rng.random((60, 4, 2, 2)).astype(np.float32) * 50
    Xte = rng.random((40, 4, 2, 2)).astype(np.float32) * 50
    ytr, yte = rng.integers(0, 3, 60), rng.integers(0, 3, 40)
    s = feature_scale(Xtr.reshape(60, -1), 20.0)
    assert np.isclose(np.linalg.norm(Xtr.reshape(60, -1) * s, axis=1).mean(), 20.0)
    scaled = classification_ap(Xtr, ytr, Xte, yte, C=0.01, n_classes=3, target_norm=20.0)
    manual = classification_ap(Xtr * s, ytr, Xte * s, yte, C=0.01, n_classes=3)
    np.testing.assert_allclose(scaled.ap, manual.ap, atol=1e-6)
    assert feature_scale(np.zeros((3, 2), np.float32), 20.0) == 1.0
