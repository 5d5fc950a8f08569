"""Greedy SVM-weight subsets of pool5 filters: test AP against subset size per class (§3.4)."""
import h5py
import pandas as pd

from layerwise.analysis.classification import load_features
from layerwise.analysis.units import filter_subsets
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
data = []
for path in (snakemake.input.train, snakemake.input.test):
    with h5py.File(path, "r") as f:
        data.append((load_features(f["features"], p.memory_mb << 20, ablation="sp-max"),
                     f["labels"][:]))
ks, aps, rankings, weights = filter_subsets(*data, len(VOC_CLASSES), p.ks, p.C, p.feature_norm,
                                            p.seed)
write_csv(pd.DataFrame([{"class": c, "k": k, "ap": aps[i, j]} for i, c in enumerate(VOC_CLASSES)
                        for j, k in enumerate(ks)]), snakemake.output.aps)
write_csv(pd.DataFrame([{"class": c, "rank": r, "filter": f, "weight": weights[i, f]}
                        for i, c in enumerate(VOC_CLASSES) for r, f in enumerate(rankings[i])]),
          snakemake.output.ranking)
log.info("k = %s; mean AP %s", ks, aps.mean(axis=0).round(1).tolist())
