"""R-CNN detector training: feature scaling, the liblinear objective, hard-negative mining."""

import numpy as np
import pytest
from scipy.optimize import minimize

from layerwise.detection.svm import (class_overlaps, feature_scale, hard_negative_mining,
                                     image_feature_reader, sample_image_features, score_features,
                                     svm_objective, train_svm)
from brute_force import iou_voc as _iou


# ---------------------------------------------------------------- feature scaling

def test_feature_scale_hand_worked():
    # norms 5 and 10: mean 7.5, so the factor is 20 / 7.5
    assert feature_scale(np.array([[3.0, 4.0], [6.0, 8.0]])) == pytest.approx(20 / 7.5)
    with pytest.raises(ValueError):
        feature_scale(np.zeros((3, 2)))


def random_images(seed, num_images=6, dim=5):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num_images):
        n = int(rng.integers(3, 12))
        feats = rng.gamma(2.0, 3.0, (n, dim)).astype(np.float32)
        out.append((feats, np.zeros((n, 4)), -np.ones(n, int)))
    return out


def test_sample_is_seeded_and_scales_mean_norm_to_20():
    images = random_images(0)
    get = images.__getitem__
    sample = sample_image_features(get, len(images), max_images=4, boxes_per_image=3, seed=7)
    again = sample_image_features(get, len(images), max_images=4, boxes_per_image=3, seed=7)
    np.testing.assert_array_equal(sample, again)
    assert len(sample) <= 12
    all_rows = {tuple(r) for f, _, _ in images for r in f.tolist()}
    assert all(tuple(r) in all_rows for r in sample.tolist())
    scale = feature_scale(sample)
    assert np.linalg.norm(sample * scale, axis=1).mean() == pytest.approx(20.0)


def test_sample_takes_everything_when_limits_exceed_data():
    images = random_images(1)
    sample = sample_image_features(images.__getitem__, len(images), max_images=200,
                                   boxes_per_image=200, seed=0)
    everything = np.concatenate([f for f, _, _ in images])
    assert sorted(map(tuple, sample.tolist())) == sorted(map(tuple, everything.tolist()))


# ---------------------------------------------------------------- the SVM

def primal_reference(X_pos, X_neg, C, bias_mult, pos_weight):
    """R-CNN's objective solved as a constrained QP by SLSQP (variables w, b, slacks)."""
    X = np.concatenate([X_pos, X_neg])
    y = np.concatenate([np.ones(len(X_pos)), -np.ones(len(X_neg))])
    cost = np.where(y > 0, C * pos_weight, C)
    n, d = X.shape

    def objective(v):
        w, b, xi = v[:d], v[d], v[d + 1:]
        return 0.5 * w @ w + 0.5 * (b / bias_mult) ** 2 + cost @ xi

    cons = [{"type": "ineq", "fun": lambda v: y * (X @ v[:d] + v[d]) - 1 + v[d + 1:]},
            {"type": "ineq", "fun": lambda v: v[d + 1:]}]
    v0 = np.concatenate([np.zeros(d + 1), np.ones(n)])
    res = minimize(objective, v0, constraints=cons, method="SLSQP",
                   options={"maxiter": 2000, "ftol": 1e-12})
    assert res.success
    return res.x[:d], res.x[d]


@pytest.mark.parametrize("C,spread", [(0.5, 1.0), (1e-3, 20.0)])
def test_train_svm_minimises_rcnn_objective(C, spread):
    # spread 20: features of norm ~20 with R-CNN's C = 0.001, the regime rcnn_train runs in
    rng = np.random.default_rng(3)
    X_pos = (rng.normal(size=(15, 2)) + [1.0, 0.5]) * spread
    X_neg = (rng.normal(size=(25, 2)) - [1.0, 0.0]) * spread
    opts = dict(svm_C=C, bias_mult=10.0, pos_loss_weight=2.0)
    w, b, converged = train_svm(X_pos, X_neg, tol=1e-10, max_iter=1_000_000, **opts)
    assert converged
    w_ref, b_ref = primal_reference(X_pos, X_neg, C, 10.0, 2.0)
    np.testing.assert_allclose(w, w_ref, atol=1e-4 * max(1, np.abs(w_ref).max()))
    assert b == pytest.approx(b_ref, abs=1e-3 * max(1, abs(b_ref)))
    ours = svm_objective(X_pos, X_neg, w, b, **opts)[0]
    assert ours == pytest.approx(svm_objective(X_pos, X_neg, w_ref, b_ref, **opts)[0], rel=1e-6)
    # the positive weight and the bias multiplier change the optimum: the test can fail
    w2, b2, _ = train_svm(X_pos, X_neg, tol=1e-10, max_iter=1_000_000, svm_C=C,
                          bias_mult=1.0, pos_loss_weight=1.0)
    assert svm_objective(X_pos, X_neg, w2, b2, **opts)[0] > ours + 1e-6


def test_objective_hand_worked():
    # z_pos = 0.5 -> hinge 0.5 (weight 2); z_neg = -2 -> 0; reg 0.5 * 1 + 0.5 * (1 / 10)^2
    total, pos, neg, reg = svm_objective([[1.5]], [[-1.0]], np.array([1.0]), -1.0,
                                         svm_C=0.1, bias_mult=10.0, pos_loss_weight=2.0)
    assert (pos, neg, reg) == pytest.approx((0.1, 0.0, 0.505))
    assert total == pytest.approx(0.605)


# ---------------------------------------------------------------- overlaps

def test_class_overlaps_takes_max_over_gt_of_each_class():
    boxes = np.array([[1, 1, 10, 10], [1, 1, 10, 5], [21, 1, 30, 10], [1, 1, 10, 10],
                      [100, 100, 110, 110]], float)
    gt_classes = np.array([0, -1, 1, 0, -1])
    ov = class_overlaps(boxes, gt_classes, 3)
    expected = np.array([[1, 0, 0], [0.5, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(ov, expected)


# ---------------------------------------------------------------- hard-negative mining

GT, FAR = [1, 1, 10, 10], [50, 50, 60, 60]
IOU_03, IOU_02 = [1, 1, 10, 3], [1, 1, 10, 2]   # VOC IoU with GT exactly 0.3 and 0.2


def image(rows):
    """rows of (x, box, gt_class): 2-D feature (x, 0) on a line, so scores are w x + b."""
    feats = np.array([[x, 0.0] for x, _, _ in rows], np.float32)
    return feats, np.array([b for _, b, _ in rows], float), np.array([c for _, _, c in rows])


# One class, positives at x = 2. With C = 10 the SVM is a hard-margin one, so each model is
# fixed by its closest negative: after image 0 f = 0.5 x (negatives -2, -2, -10); after
# image 2 f = 0.8 x - 0.6 (closest -0.5); after image 3 f = x - 1 (closest 0).
MINING_IMAGES = [
    # first image: every negative enters (rows 1, 2, 4); row 3 has IoU 0.3, not < 0.3.
    # Training: f(-10) = -5 < -1.2 evicts row 2; rows 1 and 4 sit at -1 and stay.
    image([(2, GT, 0), (-2, FAR, -1), (-10, FAR, -1), (1, IOU_03, -1), (-2, IOU_02, -1)]),
    # f(-1.5) = -0.75 > -1.0001: added; f(-6) = -3: not; row 3 scores 0 but overlaps the gt.
    # One added is not more than retrain_limit = 1: no training.
    image([(2, GT, 0), (-1.5, FAR, -1), (-6, FAR, -1), (0, IOU_03, -1)]),
    # Two more (f = -0.5, -0.25): three added > 1, retrain -> f = 0.8 x - 0.6, which puts
    # -2, -2, -1.5, -1 below -1.2 (evicted) and -0.5 at -1 (kept).
    image([(2, GT, 0), (-1, FAR, -1), (-0.5, FAR, -1)]),
    # Last image: f(0) = -0.6 added, f(-3) and f(-1.4) = -1.72 not. Final training f = x - 1
    # evicts -0.5 (f = -1.5): the cache ends as image 3's row 1 alone.
    image([(2, GT, 0), (0, FAR, -1), (-3, FAR, -1), (-1.4, FAR, -1)]),
]


def mine(images, num_classes=1, **kw):
    opts = dict(svm_C=10.0, retrain_limit=1, tol=1e-8, max_iter=100_000)
    opts.update(kw)
    return hard_negative_mining(images.__getitem__, len(images), num_classes, **opts)


def test_mining_hand_constructed_cache():
    res = mine(MINING_IMAGES)
    np.testing.assert_array_equal(res["neg_keys"][0], [[3, 1]])
    assert [(e["image"], e["n_neg"], e["n_neg_kept"]) for e in res["log"]] == \
        [(0, 3, 2), (2, 5, 1), (3, 2, 1)]
    np.testing.assert_allclose(res["W"][:, 0], [1.0, 0.0], atol=1e-4)
    assert res["b"][0] == pytest.approx(-1.0, abs=1e-4)
    assert res["num_pos"].tolist() == [4] and res["trained"].tolist() == [True]


def test_mining_retrain_limit_is_strict_and_final_training_happens():
    # retrain_limit 3: image 2's three additions are not > 3, so the only trainings are the
    # first and the last image. Image 3 is still scored by f = 0.5 x, which makes -1.4 hard
    # too: the last model f = x - 1 is fit on -2, -2, -1.5, -1, -0.5, 0, -1.4.
    res = mine(MINING_IMAGES, retrain_limit=3)
    assert [e["image"] for e in res["log"]] == [0, 3]
    assert res["log"][-1]["n_neg"] == 7
    np.testing.assert_array_equal(res["neg_keys"][0], [[3, 1]])


def test_mining_reads_arrays_and_offsets_like_a_callable():
    feats = np.concatenate([f for f, _, _ in MINING_IMAGES])
    boxes = np.concatenate([b for _, b, _ in MINING_IMAGES])
    gtc = np.concatenate([c for _, _, c in MINING_IMAGES])
    offsets = np.cumsum([0] + [len(f) for f, _, _ in MINING_IMAGES])
    get = image_feature_reader(feats, boxes, gtc, offsets)
    res = hard_negative_mining(get, len(MINING_IMAGES), 1, svm_C=10.0, retrain_limit=1,
                               tol=1e-8, max_iter=100_000)
    np.testing.assert_array_equal(res["neg_keys"][0], [[3, 1]])


def random_detection_images(seed, num_images=8, num_classes=3, dim=6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, dim)) * 3
    images = []
    for _ in range(num_images):
        n_gt, n_prop = int(rng.integers(1, 4)), int(rng.integers(8, 20))
        gt = rng.integers(0, num_classes, n_gt)
        gt[0] = len(images) % num_classes  # every class has positives
        gtc = np.concatenate([gt, -np.ones(n_prop, int)])
        xy = rng.integers(1, 60, (n_gt + n_prop, 2))
        boxes = np.concatenate([xy, xy + rng.integers(5, 30, (n_gt + n_prop, 2))], 1).astype(float)
        feats = rng.normal(size=(n_gt + n_prop, dim))
        feats[:n_gt] += centres[gtc[:n_gt]]
        images.append((feats.astype(np.float32), boxes, gtc))
    return images


def test_mining_all_classes_at_once_equals_one_class_at_a_time():
    # rcnn_train shares the image pass between classes but nothing else: class k's result
    # must equal a one-class run in which the other classes' ground truth are plain rows.
    images = random_detection_images(0)
    opts = dict(svm_C=1.0, retrain_limit=4)
    joint = mine(images, num_classes=3, **opts)
    retrains = sum(e["image"] not in (0, len(images) - 1) for e in joint["log"])
    evicted = sum(e["n_neg_kept"] < e["n_neg"] for e in joint["log"])
    assert retrains > 0 and evicted > 0  # the scenario exercises the whole loop
    for k in range(3):
        alone = [(f, b, np.where(c == k, 0, -1)) for f, b, c in images]
        single = mine(alone, num_classes=1, **opts)
        np.testing.assert_array_equal(joint["neg_keys"][k], single["neg_keys"][0])
        np.testing.assert_array_equal(joint["W"][:, k], single["W"][:, 0])
        assert joint["b"][k] == single["b"][0]


def test_mining_is_deterministic_and_scores_match():
    images = random_detection_images(1)
    a = mine(images, num_classes=3, svm_C=1.0, retrain_limit=4)
    b = mine(images, num_classes=3, svm_C=1.0, retrain_limit=4)
    np.testing.assert_array_equal(a["W"], b["W"])
    np.testing.assert_array_equal(a["b"], b["b"])
    feats = images[0][0]
    np.testing.assert_allclose(score_features(feats, a["W"], a["b"], 2.0),
                               (feats.astype(np.float64) * 2.0) @ a["W"] + a["b"], rtol=1e-6)


def test_mining_negatives_respect_iou_with_every_gt_of_the_class():
    images = random_detection_images(2)
    res = mine(images, num_classes=3, svm_C=1.0, retrain_limit=1000, evict_thresh=-np.inf)
    # no eviction, no retrain after image 0: every negative of image 0 is in the cache
    for k in range(3):
        keys = {tuple(r) for r in res["neg_keys"][k].tolist()}
        feats, boxes, gtc = images[0]
        for r in range(len(boxes)):
            gts = boxes[gtc == k]
            ious = [_iou(boxes[r], g) for g in gts]
            assert ((0, r) in keys) == (max(ious, default=0.0) < 0.3)


def test_class_without_positives_is_left_untrained():
    images = [(f, b, np.where(c == 2, -1, c)) for f, b, c in random_detection_images(3)]
    with pytest.warns(UserWarning, match="no positives"):
        res = mine(images, num_classes=3, svm_C=1.0)
    assert res["trained"].tolist() == [True, True, False]
    assert not res["W"][:, 2].any() and res["b"][2] == 0


def test_mining_skips_images_without_rows():
    empty = (np.zeros((0, 2), np.float32), np.zeros((0, 4)), np.zeros(0, int))
    res = mine([MINING_IMAGES[0], empty, *MINING_IMAGES[1:]])
    np.testing.assert_array_equal(res["neg_keys"][0], [[4, 1]])  # image 3 is now image 4
