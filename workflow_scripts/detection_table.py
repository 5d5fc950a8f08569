"""Assemble a detection table (thesis Tables 2.3, 4.2, 5.2) and its comparison with the thesis."""
import pandas as pd

from layerwise import tables
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
name = snakemake.wildcards.table
aps = {row: pd.read_csv(path)["ap"].to_numpy() for row, path in zip(snakemake.params.rows,
                                                                    snakemake.input)}
table = tables.detection_table(aps, name)
write_csv(table.round(1), snakemake.output.table)
write_csv(tables.compare(table, name, snakemake.params.run).round(2), snakemake.output.compare)
log.info("%s: %d rows", name, len(table))
