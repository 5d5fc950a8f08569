"""SUN-397 scene accuracy of a layer's features (thesis §1.2, Table 2.2; SPEC §9).

One-vs-rest linear SVMs (liblinear, the classification protocol of
`layerwise.analysis.classification`) are trained on the train part of the 50/10/40 split; each
test scene goes to the class whose SVM scores it highest, and the accuracy is the mean over
classes of the fraction of each class's test scenes classified correctly. With a sweep of C,
the val part picks C (by the same accuracy) before the test part is scored once.
"""

import numpy as np

from .classification import (DEFAULT_MEMORY, feature_scale, label_matrix, load_features,
                             score_features, train_svms)


def mean_per_class_accuracy(predicted, labels, n_classes):
    """Mean over the classes present in `labels` of the fraction of their samples predicted
    right, in percent (classes without test samples are left out of the mean)."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    present = [k for k in range(n_classes) if (labels == k).any()]
    if not present:
        raise ValueError("no test samples: the accuracy is undefined")
    return 100.0 * float(np.mean([(predicted[labels == k] == k).mean() for k in present]))


def _accuracy(W, b, features, labels, scale, n_classes, memory_bytes):
    # Scaling the features by `scale` is scaling the weights by it: scores are linear.
    scores = score_features(features, W * scale, b, memory_bytes)
    return mean_per_class_accuracy(scores.argmax(axis=1), labels, n_classes)


def scene_accuracy(train_features, train_labels, test_features, test_labels, n_classes, C, *,
                   Cs=None, val_features=None, val_labels=None, target_norm=20.0, seed=0,
                   memory_bytes=DEFAULT_MEMORY):
    """Table 2.2's SUN accuracy (percent) of one layer, and the C it used: features (N, ...)
    as arrays or HDF5 datasets, labels class indices. Features are scaled to a mean L2 norm
    of `target_norm` on train, as for every other SVM of the project. With `Cs`, each C is
    trained on train and scored on val, and the best (ties: the first in `Cs`) is used on
    test; otherwise `C` is."""
    X = load_features(train_features, memory_bytes)
    scale = feature_scale(X, target_norm)
    X *= scale
    Y = label_matrix(train_labels, n_classes)
    if Cs:
        if val_features is None:
            raise ValueError("a sweep of C needs the val split's features")
        val = {c: _accuracy(*train_svms(X, Y, c, seed=seed), val_features, val_labels, scale,
                            n_classes, memory_bytes) for c in Cs}
        C = max(val, key=val.get)
    W, b = train_svms(X, Y, C, seed=seed)
    del X
    return _accuracy(W, b, test_features, test_labels, scale, n_classes, memory_bytes), C
