"""Per-class AP of linear SVMs on each layer's activations (thesis §1.2, §2.4, §4, §5)."""
import h5py
import pandas as pd

from layerwise.analysis.classification import classification_ap
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p, ablation = snakemake.params, snakemake.wildcards.ablation
rows = []
for layer, train_path, test_path in zip(p.layers, snakemake.input.train, snakemake.input.test):
    with h5py.File(train_path, "r") as train, h5py.File(test_path, "r") as test:
        result = classification_ap(
            train["features"], train["labels"][:], test["features"], test["labels"][:],
            C=p.svm["C"], Cs=p.svm["C_sweep"] or None, n_classes=len(VOC_CLASSES),
            classes=VOC_CLASSES, ablation=None if ablation == "unroll" else ablation,
            seed=p.seed, memory_bytes=p.svm["memory_mb"] << 20,
            target_norm=p.svm["feature_norm"])
    rows.append(pd.DataFrame({"layer": layer, "class": VOC_CLASSES, "ap": result.ap,
                              "C": result.C}))
    log.info("%s: mAP %.2f with C=%g", layer, result.mean_ap, result.C)
write_csv(pd.concat(rows), snakemake.output[0])
