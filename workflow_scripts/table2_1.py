"""Table 2.1: percent decrease of MCAuE from alexnet to ft per layer and entropy method (§2.3)."""
import pandas as pd

from layerwise import tables
from layerwise.analysis.selectivity import METHODS, table2_1_row
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
values = {}
for layer, a_path, ft_path in zip(p.layers, snakemake.input.alexnet, snakemake.input.ft):
    a, ft = pd.read_csv(a_path), pd.read_csv(ft_path)
    row = table2_1_row({k: a[f"aue_{k}"] for k in METHODS}, {k: ft[f"aue_{k}"] for k in METHODS})
    values.update({(layer, column): value for column, value in row.items()})
columns = list(dict.fromkeys(column for _, column in values))
table = tables.per_layer_table(values, columns, "table2_1")
write_csv(table.round(2), snakemake.output.table)
write_csv(tables.compare(table, "table2_1", p.run).round(2), snakemake.output.compare)
log.info("table2_1: %d layers x %d columns", len(table), len(columns))
