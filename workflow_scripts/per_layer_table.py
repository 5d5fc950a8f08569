"""Assemble a per-layer thesis table (4.1, 5.1, 2.4) and its comparison with the thesis."""
import pandas as pd

from layerwise import tables
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
name = snakemake.wildcards.table
values = {}
for column, path in zip(snakemake.params.columns, snakemake.input):
    for layer, ap in pd.read_csv(path).groupby("layer")["ap"].mean().items():
        values[(layer, column)] = ap
table = tables.per_layer_table(values, snakemake.params.columns, name)
write_csv(table.round(1), snakemake.output.table)
write_csv(tables.compare(table, name, snakemake.params.run, snakemake.params.column_map)
          .round(2), snakemake.output.compare)
log.info("%s: %d rows x %d columns", name, len(table), len(snakemake.params.columns))
