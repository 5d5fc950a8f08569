"""SUN scene accuracy of one network's fc7 (thesis Table 2.2)."""
import contextlib

import h5py
import pandas as pd

from layerwise.analysis.scene_accuracy import scene_accuracy
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
sweep = p.svm["C_sweep"]  # the rule reads the val split only to pick C
with h5py.File(snakemake.input.train, "r") as train, h5py.File(snakemake.input.test, "r") as test, \
        (h5py.File(snakemake.input.val, "r") if sweep else contextlib.nullcontext()) as val:
    n_classes = len(train.attrs["classes"])
    accuracy, C = scene_accuracy(
        train["features"], train["labels"][:], test["features"], test["labels"][:], n_classes,
        p.svm["C"], Cs=sweep, val_features=val["features"] if sweep else None,
        val_labels=val["labels"][:] if sweep else None, target_norm=p.svm["feature_norm"],
        seed=p.seed, memory_bytes=p.svm["memory_mb"] << 20)
write_csv(pd.DataFrame({"layer": [p.layer], "accuracy": [accuracy], "C": [C]}),
          snakemake.output[0])
log.info("%s %s: mean per-class accuracy %.2f over %d scenes (C = %g)",
         snakemake.wildcards.network, p.layer, accuracy, n_classes, C)
