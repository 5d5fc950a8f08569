"""A table from per-job CSV rows, stacked in input order (table_patch, table_cache)."""
import pandas as pd

from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
table = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
write_csv(table, snakemake.output[0])
log.info("%d rows from %d files", len(table), len(snakemake.input))
