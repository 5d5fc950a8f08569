"""Assemble a per-layer thesis table (4.1, 5.1, 2.4) and its comparison with the thesis."""
import pandas as pd

from layerwise import tables
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
columns, name = snakemake.params.columns, snakemake.wildcards.table
files = iter(snakemake.input)
values = {(layer, column): pd.read_csv(next(files))["ap"].mean()
          for column in columns for layer in tables.LAYERS}
table = tables.per_layer_table(values, columns, name)
write_csv(table.round(1), snakemake.output.table)
write_csv(tables.compare(table, name, snakemake.params.run).round(2), snakemake.output.compare)
log.info("%s: %d rows x %d columns", name, len(table), len(columns))
