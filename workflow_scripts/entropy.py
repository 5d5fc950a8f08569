"""AuE of every filter of one layer by label, weighted-label and spMax-label entropy (thesis §2.2)."""
import h5py
import pandas as pd

from layerwise.analysis.selectivity import filter_entropies
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
with h5py.File(snakemake.input[0], "r") as f:
    result = filter_entropies(f["features"], f["labels"][:], len(VOC_CLASSES), T=p.T,
                              memory_bytes=p.memory_mb << 20, progress=progress)
table = pd.DataFrame({"filter": range(len(result["dead"])),
                      **{k: result[k] for k in ("aue_label", "aue_weighted", "aue_spmax", "dead")}})
write_csv(table, snakemake.output[0])
log.info("%d filters, %d dead; mean AuE label %.4f, weighted %.4f, spMax %.4f", len(table),
         table["dead"].sum(), *table[["aue_label", "aue_weighted", "aue_spmax"]].mean())
