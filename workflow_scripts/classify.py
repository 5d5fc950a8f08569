"""Per-class AP of linear SVMs on one layer's activations (thesis §1.2, §2.4, §4, §5)."""
import h5py
import pandas as pd

from layerwise.analysis.classification import classification_ap
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
svm, ablation = snakemake.params.svm, snakemake.wildcards.ablation
with h5py.File(snakemake.input.train, "r") as train, h5py.File(snakemake.input.test, "r") as test:
    result = classification_ap(
        train["features"], train["labels"][:], test["features"], test["labels"][:],
        C=svm["C"], Cs=svm["C_sweep"] or None, n_classes=len(VOC_CLASSES), classes=VOC_CLASSES,
        ablation=None if ablation == "unroll" else ablation, seed=snakemake.params.seed,
        memory_bytes=svm["memory_mb"] << 20)
write_csv(pd.DataFrame({"class": VOC_CLASSES, "ap": result.ap, "C": result.C}),
          snakemake.output[0])
log.info("mAP %.2f with C=%g", result.mean_ap, result.C)
