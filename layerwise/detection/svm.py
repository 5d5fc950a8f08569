"""R-CNN's detector training: feature scaling, liblinear SVMs, hard-negative mining (SPEC §9).

A port of rcnn_train.m, rcnn_feature_stats.m and rcnn_scale_features.m (Girshick et al.
2014, github.com/rbgirshick/rcnn), which the thesis follows for detection (§1.2, Tables 2.3,
4.2, 5.2). Every constant of the protocol is a keyword argument whose default is R-CNN's.

Per-image features reach the trainer through a callable
``get_image_features(i) -> (feats, boxes, gt_classes)``:

- ``feats``: (n, D) array (or (n, C, H, W), flattened here) of one image's rows;
- ``boxes``: (n, 4) VOC boxes (1-based inclusive x1, y1, x2, y2) of those rows;
- ``gt_classes``: (n,) int, the class index (0..K-1) of rows that are ground-truth boxes,
  -1 for region proposals.

R-CNN's rows are the image's ground-truth boxes followed by its proposals, and the
ground truth includes difficult objects (roidb_from_voc.m keeps every object); which
objects to pass is the caller's choice. :func:`image_feature_reader` builds the callable
from arrays (or h5py datasets) and per-image offsets, so features stream from HDF5.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from layerwise.detection.boxes import box_iou_voc


def image_feature_reader(feats, boxes, gt_classes, offsets):
    """Callable ``i -> (feats, boxes, gt_classes)`` reading rows offsets[i]:offsets[i+1].

    Works on numpy arrays and on h5py datasets alike (only image i's rows are read).
    """
    offsets = np.asarray(offsets, dtype=np.int64)

    def get_image_features(i):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        return np.asarray(feats[lo:hi]), np.asarray(boxes[lo:hi]), np.asarray(gt_classes[lo:hi])

    return get_image_features


def _as_rows(feats):
    """(n, ...) features as float32 rows (n, D); conv maps (n, C, H, W) are unrolled."""
    feats = np.asarray(feats, dtype=np.float32)
    return feats.reshape(len(feats), int(np.prod(feats.shape[1:])))


def sample_image_features(get_image_features, num_images, max_images=200, boxes_per_image=200,
                          seed=0):
    """The seeded feature sample of rcnn_feature_stats.m: up to `boxes_per_image` random rows
    from each of up to `max_images` random images, stacked into (S, D)."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(num_images)[:min(num_images, max_images)]
    sample = []
    for i in chosen:
        feats = _as_rows(get_image_features(int(i))[0])
        rows = rng.permutation(len(feats))[:min(boxes_per_image, len(feats))]
        sample.append(feats[np.sort(rows)])
    return np.concatenate(sample, axis=0)


def feature_scale(sample_feats, target_norm=20.0):
    """Factor that brings the mean L2 norm of `sample_feats` to `target_norm`
    (rcnn_scale_features.m: R-CNN tuned C on features of mean norm 20, and rescaling every
    layer to that norm lets one C serve pool5, fc6 and fc7)."""
    mean_norm = float(np.linalg.norm(_as_rows(sample_feats).astype(np.float64), axis=1).mean())
    if not mean_norm > 0:
        raise ValueError(f"features have mean L2 norm {mean_norm}; cannot scale them to {target_norm}")
    return target_norm / mean_norm


def class_overlaps(boxes, gt_classes, num_classes):
    """(n, K) array: each row's largest VOC IoU with the ground-truth boxes of each class,
    0 where the image has none (the `overlap` field of roidb_from_voc.m)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    gt_classes = np.asarray(gt_classes).reshape(-1)
    overlap = np.zeros((len(boxes), num_classes))
    is_gt = gt_classes >= 0
    if is_gt.any():
        iou = box_iou_voc(boxes, boxes[is_gt])
        for k in np.unique(gt_classes[is_gt]):
            overlap[:, k] = iou[:, gt_classes[is_gt] == k].max(axis=1)
    return overlap


def train_svm(X_pos, X_neg, svm_C=1e-3, bias_mult=10.0, pos_loss_weight=2.0, tol=0.1,
              max_iter=1000, seed=0):
    """One liblinear fit of rcnn_train's update_model: returns (w, b, converged).

    R-CNN calls ``liblinear_train(y, X, '-w1 2 -c 0.001 -s 3 -B 10')``: solver 3 is the
    dual L2-regularised L1 (hinge) loss SVM, which is LinearSVC(loss="hinge", penalty="l2",
    dual=True). liblinear's ``-wi`` multiplies C for label i, so ``-w1 2`` is
    class_weight={1: 2, -1: 1}: positives pay 2C per unit of hinge loss, negatives C.
    ``-B 10`` appends a constant feature 10 whose (regularised) weight v gives b = 10 v;
    scikit-learn's intercept_scaling does exactly that. The objective minimised is then
    0.5|w|^2 + 0.5 (b / bias_mult)^2 + C (pos_loss_weight sum_pos hinge + sum_neg hinge),
    the one rcnn_train logs. tol 0.1 and 1000 iterations are liblinear's defaults for -s 3.
    """
    X = np.concatenate([X_pos, X_neg], axis=0)
    y = np.concatenate([np.ones(len(X_pos)), -np.ones(len(X_neg))])
    svm = LinearSVC(penalty="l2", loss="hinge", dual=True, C=svm_C, tol=tol, max_iter=max_iter,
                    fit_intercept=True, intercept_scaling=bias_mult,
                    class_weight={1: pos_loss_weight, -1: 1.0}, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm.fit(X, y)
    converged = not any(issubclass(c.category, ConvergenceWarning) for c in caught)
    return svm.coef_[0].astype(np.float64), float(svm.intercept_[0]), converged


def svm_objective(X_pos, X_neg, w, b, svm_C=1e-3, bias_mult=10.0, pos_loss_weight=2.0):
    """rcnn_train's logged objective: (total, pos_loss, neg_loss, reg_loss)."""
    z_pos = np.asarray(X_pos, dtype=np.float64) @ w + b
    z_neg = np.asarray(X_neg, dtype=np.float64) @ w + b
    pos_loss = svm_C * pos_loss_weight * np.maximum(0.0, 1.0 - z_pos).sum()
    neg_loss = svm_C * np.maximum(0.0, 1.0 + z_neg).sum()
    reg_loss = 0.5 * float(w @ w) + 0.5 * (b / bias_mult) ** 2
    return pos_loss + neg_loss + reg_loss, pos_loss, neg_loss, reg_loss


def collect_positives(get_image_features, num_images, num_classes, feat_scale=1.0):
    """Ground-truth rows of every class (get_positive_pool5_features): per class, scaled
    features (P, D) and keys (P, 2) of (image index, row index)."""
    feats_k = [[] for _ in range(num_classes)]
    keys_k = [[] for _ in range(num_classes)]
    dim = None
    for i in range(num_images):
        feats, _, gt_classes = get_image_features(i)
        feats, gt_classes = _as_rows(feats), np.asarray(gt_classes).reshape(-1)
        dim = feats.shape[1] if len(feats) else dim
        for k in range(num_classes):
            rows = np.flatnonzero(gt_classes == k)
            if len(rows):
                feats_k[k].append(feats[rows] * np.float32(feat_scale))
                keys_k[k].append(np.stack([np.full(len(rows), i), rows], axis=1))
    if dim is None:
        raise ValueError("no features in any image: nothing to train on")
    X = [np.concatenate(c) if c else np.zeros((0, dim), np.float32) for c in feats_k]
    keys = [np.concatenate(c) if c else np.zeros((0, 2), np.int64) for c in keys_k]
    return X, keys


class _NegativeCache:
    """One class's training cache (rcnn_train's init_cache), negatives appended in chunks
    so that adding an image's few hard negatives does not copy the whole cache."""

    def __init__(self, dim):
        self.X = np.zeros((0, dim), np.float32)
        self.keys = np.zeros((0, 2), np.int64)
        self.rows_by_image = {}
        self.pending_X, self.pending_keys = [], []
        self.num_added = 0

    def new_rows(self, i, rows):
        """`rows` of image i that are not cached yet (R-CNN's duplicate check)."""
        cached = self.rows_by_image.get(i)
        if not cached:
            return rows
        return rows[[r not in cached for r in rows.tolist()]]

    def add(self, i, X, rows):
        self.pending_X.append(X)
        self.pending_keys.append(np.stack([np.full(len(rows), i), rows], axis=1))
        self.rows_by_image.setdefault(i, set()).update(rows.tolist())
        self.num_added += len(rows)

    def __len__(self):
        return len(self.X) + sum(len(x) for x in self.pending_X)

    def consolidate(self):
        if self.pending_X:
            self.X = np.concatenate([self.X, *self.pending_X])
            self.keys = np.concatenate([self.keys, *self.pending_keys])
            self.pending_X, self.pending_keys = [], []

    def evict(self, drop):
        for i, r in self.keys[drop].tolist():
            self.rows_by_image[i].discard(r)
        self.X, self.keys = self.X[~drop], self.keys[~drop]


def _update_model(cache, X_pos, W, b, k, evict_thresh, svm_opts, fit_opts):
    """Retrain class k on its cache, store the model in W[:, k], b[k], evict easy negatives
    (rcnn_train's update block). Returns the log entry."""
    cache.consolidate()
    W[:, k], b[k], converged = train_svm(X_pos, cache.X, **svm_opts, **fit_opts)
    cache.num_added = 0
    total, pos_loss, neg_loss, reg_loss = svm_objective(X_pos, cache.X, W[:, k], b[k], **svm_opts)
    n_neg = len(cache.X)
    cache.evict((cache.X.astype(np.float64) @ W[:, k] + b[k]) < evict_thresh)
    return {"class": k, "n_pos": len(X_pos), "n_neg": n_neg, "n_neg_kept": len(cache.X),
            "objective": float(total), "pos_loss": float(pos_loss), "neg_loss": float(neg_loss),
            "reg_loss": float(reg_loss), "converged": converged}


def hard_negative_mining(get_image_features, num_images, num_classes, *, feat_scale=1.0,
                         svm_C=1e-3, bias_mult=10.0, pos_loss_weight=2.0, neg_ovr_thresh=0.3,
                         hard_thresh=-1.0001, evict_thresh=-1.2, retrain_limit=2000,
                         hard_epochs=1, tol=0.1, max_iter=1000, seed=0, progress=None):
    """Train all K class detectors at once with rcnn_train's hard-negative mining.

    Positives of class k: its ground-truth rows. Negatives: rows (proposals, and ground
    truth of other classes, as in R-CNN) whose IoU with every ground truth of class k in the
    image is < `neg_ovr_thresh`. Images are visited in order, each read once per epoch and
    scored by all K current models:

    - the first image adds all its negatives (no model yet);
    - later images add negatives scoring > `hard_thresh` that are not already cached;
    - a class is retrained when more than `retrain_limit` negatives were added since its last
      training (R-CNN's strict ``num_added > retrain_limit``), on the first image, and on the
      last image of the last epoch; after each training, cached negatives scoring below
      `evict_thresh` are evicted.

    A class without cached negatives is not trained at that point (as in R-CNN). A class
    without positives is never trained: its weights stay 0 and its bias 0, a warning is
    issued, and ``trained[k]`` is False. Untrained models score 0, so every negative counts
    as hard for them (MATLAB zero-fills R-CNN's W the same way).

    `feat_scale` multiplies every feature (see :func:`feature_scale`); `progress`, if given,
    wraps the image iterator (e.g. tqdm). Returns a dict: ``W`` (D, K) and ``b`` (K,)
    float64, ``trained`` (K,) bool, ``neg_keys`` (per class, the final cache's (image, row)
    keys), ``num_pos`` (K,) and ``log`` (one dict per training: epoch, image, class, n_pos,
    n_neg, n_neg_kept, objective, pos_loss, neg_loss, reg_loss, converged).
    """
    svm_opts = dict(svm_C=svm_C, bias_mult=bias_mult, pos_loss_weight=pos_loss_weight)
    X_pos, _ = collect_positives(get_image_features, num_images, num_classes, feat_scale)
    dim = X_pos[0].shape[1]
    has_pos = np.array([len(x) > 0 for x in X_pos])
    if not has_pos.all():
        warnings.warn(f"classes {np.flatnonzero(~has_pos).tolist()} have no positives; "
                      "their detectors are left untrained (w = 0, b = 0)")
    W, b = np.zeros((dim, num_classes)), np.zeros(num_classes)
    caches = [_NegativeCache(dim) for _ in range(num_classes)]
    log = []
    first_time = True
    for epoch in range(hard_epochs):
        images = range(num_images) if progress is None else progress(range(num_images))
        for i in images:
            feats, boxes, gt_classes = get_image_features(i)
            feats = _as_rows(feats) * np.float32(feat_scale)
            is_neg = class_overlaps(boxes, gt_classes, num_classes) < neg_ovr_thresh
            if not first_time:
                is_neg &= (feats.astype(np.float64) @ W + b) > hard_thresh
            is_last = epoch == hard_epochs - 1 and i == num_images - 1
            for k in range(num_classes):
                rows = caches[k].new_rows(i, np.flatnonzero(is_neg[:, k]))
                if len(rows):
                    caches[k].add(i, feats[rows], rows)
                retrain = first_time or caches[k].num_added > retrain_limit or is_last
                if retrain and has_pos[k] and len(caches[k]):
                    log.append(_update_model(caches[k], X_pos[k], W, b, k, evict_thresh,
                                             svm_opts, dict(tol=tol, max_iter=max_iter, seed=seed)))
                    log[-1].update(epoch=epoch, image=int(i))
            first_time = False
    for cache in caches:
        cache.consolidate()
    trained = np.zeros(num_classes, bool)
    for entry in log:
        trained[entry["class"]] = True
    return dict(W=W, b=b, trained=trained, neg_keys=[c.keys for c in caches],
                num_pos=np.array([len(x) for x in X_pos]), log=log)


def score_features(feats, W, b, feat_scale=1.0):
    """Detector scores (n, K) of rows `feats` (rcnn_test: scaled features times W plus B)."""
    return (_as_rows(feats) * np.float32(feat_scale)).astype(np.float64) @ W + b


def train_detectors(get_image_features, num_images, num_classes, *, C=1e-3, bias_mult=10.0,
                    pos_weight=2.0, neg_iou=0.3, hard_thresh=-1.0001, evict_thresh=-1.2,
                    retrain_every=2000, hard_epochs=1, feature_norm=20.0, sample_images=200,
                    sample_boxes=200, tol=0.1, max_iter=1000, seed=0, progress=None):
    """rcnn_train end to end: the feature scale from a seeded sample (rcnn_feature_stats),
    then :func:`hard_negative_mining` of all classes on the scaled features. The keywords are
    the names of the config's `detection` block (SPEC §9; R-CNN's defaults). Returns
    hard_negative_mining's dict plus ``scale``, the factor applied to every feature."""
    sample = sample_image_features(get_image_features, num_images, sample_images, sample_boxes,
                                   seed)
    scale = feature_scale(sample, feature_norm)
    model = hard_negative_mining(
        get_image_features, num_images, num_classes, feat_scale=scale, svm_C=C,
        bias_mult=bias_mult, pos_loss_weight=pos_weight, neg_ovr_thresh=neg_iou,
        hard_thresh=hard_thresh, evict_thresh=evict_thresh, retrain_limit=retrain_every,
        hard_epochs=hard_epochs, tol=tol, max_iter=max_iter, seed=seed, progress=progress)
    return {**model, "scale": scale}
