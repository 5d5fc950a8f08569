"""Table 3.1: pool5 filters needed for 50% and 90% of the all-filter AP, alexnet and ft (§3.4)."""
import pandas as pd

from layerwise import tables
from layerwise.analysis.units import filters_needed_table
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.reference import VOC_SHORT_NAMES
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
subsets = {}
for label, path in (("AN", snakemake.input.alexnet), ("FT", snakemake.input.ft)):
    aps = pd.read_csv(path).pivot(index="class", columns="k", values="ap").loc[list(VOC_CLASSES)]
    subsets[label] = (aps.columns.tolist(), aps.to_numpy())
table = filters_needed_table(subsets, [VOC_SHORT_NAMES[c] for c in VOC_CLASSES])
write_csv(table, snakemake.output.table)
write_csv(tables.compare(table, "table3_1", snakemake.params.run), snakemake.output.compare)
log.info("table3_1:\n%s", table.to_string(index=False))
