"""SUN scene accuracy of one network's fc7 (thesis Table 2.2)."""
import h5py
import pandas as pd

from layerwise.analysis.scene_accuracy import scene_accuracy
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
val = h5py.File(snakemake.input.val, "r") if p.svm["C_sweep"] else None
with h5py.File(snakemake.input.train, "r") as train, h5py.File(snakemake.input.test, "r") as test:
    n_classes = len(train.attrs["classes"])
    accuracy, C = scene_accuracy(
        train["features"], train["labels"][:], test["features"], test["labels"][:], n_classes,
        p.svm["C"], Cs=p.svm["C_sweep"], val_features=val and val["features"],
        val_labels=val and val["labels"][:], target_norm=p.svm["feature_norm"], seed=p.seed,
        memory_bytes=p.svm["memory_mb"] << 20)
if val:
    val.close()
write_csv(pd.DataFrame({"layer": [p.layer], "accuracy": [accuracy], "C": [C]}),
          snakemake.output[0])
log.info("%s %s: mean per-class accuracy %.2f over %d scenes (C = %g)",
         snakemake.wildcards.network, p.layer, accuracy, n_classes, C)
