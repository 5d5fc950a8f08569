"""Join the segments' logs into the training curve of Fig 4-1 (SPEC §9.0)."""
import pandas as pd

from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
curve = pd.concat(pd.read_csv(path) for path in snakemake.input)
write_csv(curve.sort_values("iteration", kind="stable"), snakemake.output[0])
log.info("%d rows", len(curve))
