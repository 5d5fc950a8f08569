"""rcnn_train and rcnn_test end to end on small arrays: the scale, test-time proposals only,
per-class AP with undefined classes, Table 2.2's SUN accuracy and the detection tables."""

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

from layerwise import tables
from layerwise.analysis.scene_accuracy import mean_per_class_accuracy, scene_accuracy
from layerwise.detection.evaluate import detect, detect_images, detection_aps, voc07_detection_ap
from layerwise.detection.svm import (feature_scale, hard_negative_mining, sample_image_features,
                                     train_detectors)
from layerwise.reference import load_reference_table
from test_detection_svm import random_detection_images


def test_train_detectors_is_mining_on_features_scaled_from_the_seeded_sample():
    images = random_detection_images(3)
    get = images.__getitem__
    got = train_detectors(get, len(images), 3, sample_images=4, sample_boxes=5, seed=7)
    scale = feature_scale(sample_image_features(get, len(images), 4, 5, seed=7), 20.0)
    want = hard_negative_mining(get, len(images), 3, feat_scale=scale, seed=7)
    assert got["scale"] == scale
    np.testing.assert_array_equal(got["W"], want["W"])
    np.testing.assert_array_equal(got["b"], want["b"])


def test_detect_images_scores_proposals_only():
    images = random_detection_images(4, num_images=3)
    W, b = np.random.default_rng(0).normal(size=(6, 3)), np.zeros(3)
    # a gt row scoring above everything would be detected first if it were scored
    images = [(f.copy(), bx, c) for f, bx, c in images]
    for feats, _, gtc in images:
        feats[gtc >= 0] = 1000 * np.sign(W[:, 0])
    got = detect_images(images.__getitem__, ["a", "b", "c"], W, b, 2.0, classes=["x", "y", "z"])
    want = pd.concat([detect((f[c < 0] * np.float32(2.0)).astype(np.float64) @ W + b, bx[c < 0],
                             0.3, 100, image_id, ["x", "y", "z"])
                      for (f, bx, c), image_id in zip(images, "abc")], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert got["score"].max() < 1000


def test_detection_aps_in_percent_and_nan_without_ground_truth():
    gt = pd.DataFrame({"image_id": ["a", "a", "b"], "class": ["cat", "dog", "dog"],
                       "x1": [1, 1, 1], "y1": [1, 1, 1], "x2": [10, 10, 10], "y2": [10, 10, 10],
                       "difficult": [0, 1, 0]})
    det = pd.DataFrame({"image_id": ["a", "b", "a"], "class": ["cat", "dog", "dog"],
                        "score": [1.0, 0.5, 0.2], "x1": 1, "y1": 1, "x2": 10, "y2": [10, 10, 3]})
    aps = detection_aps(det, gt, ["cat", "dog", "cow"])
    assert aps[0] == pytest.approx(100.0)
    assert aps[1] == pytest.approx(100 * voc07_detection_ap(det, gt, "dog"))
    assert np.isnan(aps[2])  # no cow at all: undefined, not 0


def test_mean_per_class_accuracy_hand_worked():
    # class 0: 2 of 3 right, class 1: 1 of 1, class 2: absent from the test labels
    assert mean_per_class_accuracy([0, 0, 1, 1], [0, 0, 0, 1], 3) == pytest.approx(100 * 5 / 6)


def test_scene_accuracy_matches_one_vs_rest_liblinear():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 5)) * 2
    y_train, y_test = np.repeat(np.arange(4), 10), np.repeat(np.arange(4), 6)
    X_train = (centres[y_train] + rng.normal(size=(40, 5))).astype(np.float32)
    X_test = (centres[y_test] + rng.normal(size=(24, 5))).astype(np.float32)
    got, C = scene_accuracy(X_train, y_train, X_test, y_test, 4, C=0.01, target_norm=20.0)
    assert C == 0.01
    scale = 20.0 / np.linalg.norm(X_train.astype(np.float64), axis=1).mean()
    scores = np.stack([LinearSVC(C=0.01, dual=True, random_state=0)
                       .fit(X_train * scale, np.where(y_train == k, 1, -1))
                       .decision_function(X_test * scale) for k in range(4)], 1)
    want = np.mean([(scores[y_test == k].argmax(1) == k).mean() for k in range(4)]) * 100
    assert got == pytest.approx(want)
    assert 50 < got <= 100


def test_scene_accuracy_picks_C_on_val_then_scores_test_once():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 6))
    y = {n: np.repeat(np.arange(3), n) for n in (12, 4, 8)}
    X = {n: (centres[y[n]] + 1.5 * rng.normal(size=(3 * n, 6))).astype(np.float32) for n in y}
    Cs = [1e-4, 1e-2, 1.0]
    scale = 20.0 / np.linalg.norm(X[12].astype(np.float64), axis=1).mean()

    def accuracy(C, n):  # brute force: one LinearSVC per class, argmax, mean per class
        scores = np.stack([LinearSVC(C=C, dual=True, random_state=0)
                           .fit(X[12] * scale, np.where(y[12] == k, 1, -1))
                           .decision_function(X[n] * scale) for k in range(3)], 1)
        return np.mean([(scores[y[n] == k].argmax(1) == k).mean() for k in range(3)]) * 100

    val = [accuracy(C, 4) for C in Cs]
    best = Cs[int(np.argmax(val))]  # argmax takes the first of ties, as the sweep must
    got, C = scene_accuracy(X[12], y[12], X[8], y[8], 3, C=123.0, Cs=Cs, val_features=X[4],
                            val_labels=y[4])
    assert C == best
    assert got == pytest.approx(accuracy(best, 8))
    with pytest.raises(ValueError, match="val split"):
        scene_accuracy(X[12], y[12], X[8], y[8], 3, C=1.0, Cs=Cs)


def test_detection_table_has_the_thesis_columns_and_the_mean():
    aps = {"15": np.arange(20.0), "16": np.full(20, 50.0)}
    table = tables.detection_table(aps, "table2_3")
    assert table.columns.tolist() == ["layer", *load_reference_table("table2_3").columns]
    assert table["layer"].tolist() == ["15", "16"]
    assert table["mAP"].tolist() == [9.5, 50.0]
    with pytest.raises(ValueError, match="19 APs"):
        tables.detection_table({"15": np.zeros(19)}, "table2_3")


def test_row_table_keeps_the_thesis_row_and_column_order():
    columns = load_reference_table("table2_2").columns
    table = tables.row_table({c: float(i) for i, c in enumerate(reversed(columns))}, "table2_2")
    assert table.iloc[0, 0] == "relu-7"
    assert table.columns[1:].tolist() == columns.tolist()
    assert table.iloc[0, 1:].tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        tables.row_table({"x": 1.0}, "table2_2")
