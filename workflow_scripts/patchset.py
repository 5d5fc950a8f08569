"""Crop the PatchSet of seed 000: objects above a minimum size, resized (SPEC §4.3)."""
import pandas as pd

from layerwise.data import patches
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
objects = patches.select_patchset(pd.read_csv(snakemake.input.index, dtype={"image_id": str}),
                                  p.min_size)
crops = patches.patchset_patches(objects, p.voc_root, p.size,
                                 progress=lambda it: progress(it, total=len(objects), desc="boxes"))
patches.write_patches(snakemake.output[0], objects, crops,
                      {"size": p.size, "min_size": p.min_size, "split": snakemake.wildcards.split})
log.info("%d patches", len(objects))
