"""Table 2.2: fc7 detection mAP and SUN accuracy of Alex-Net, FT and FC-FT."""
import pandas as pd

from layerwise import tables
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
values = {column: pd.read_csv(path)["ap"].mean()
          for column, path in zip(p.detection_columns, snakemake.input.detection)}
values |= {column: float(pd.read_csv(path)["accuracy"].iloc[0])
           for column, path in zip(p.sun_columns, snakemake.input.sun)}
table = tables.row_table(values, "table2_2")
write_csv(table.round(1), snakemake.output.table)
write_csv(tables.compare(table, "table2_2", p.run).round(2), snakemake.output.compare)
log.info("table2_2: %s", values)
