"""Warp every ground-truth box of a split, R-CNN style, into the gt-box cache (SPEC §4.3)."""
import pandas as pd

from layerwise.data import patches
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
objects = patches.select_gtboxes(pd.read_csv(snakemake.input.index, dtype={"image_id": str}),
                                 p.include_difficult)
warped = patches.gtbox_patches(objects, p.voc_root, p.size, p.context_pad, p.pixel_mean,
                               progress=lambda it: progress(it, total=len(objects), desc="boxes"))
patches.write_patches(snakemake.output[0], objects, warped,
                      {"size": p.size, "context_pad": p.context_pad, "pixel_mean": p.pixel_mean,
                       "include_difficult": p.include_difficult, "split": snakemake.wildcards.split})
log.info("%d boxes", len(objects))
