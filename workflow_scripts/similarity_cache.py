"""Seed 003's training with or without feature-map similarity caching, scored every epoch."""
import pandas as pd

from layerwise.data.images import read_images
from layerwise.experiments import similarity_cache
from layerwise.io import write_csv
from layerwise.runtime import resolve_device, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
images, labels, attrs = read_images(snakemake.input.train)
val_images, val_labels, _ = read_images(snakemake.input.val)
rows = similarity_cache.run(
    images, labels, val_images, val_labels, training=snakemake.wildcards.training,
    num_classes=len(attrs["classes"]), model_cfg=p.model, cfg=p.experiment, seed=p.seed,
    pixel_mean=p.pixel_mean, device=resolve_device(p.device), threads=p.torch_threads,
    progress=True)
write_csv(pd.DataFrame(rows).round({"accuracy": 2, "wall_time_s": 1}), snakemake.output[0])
for row in rows:
    log.info("%(training)s epoch %(epoch)d: top-1 %(accuracy).2f%%, %(cache_hits)d cache hits, "
             "%(samples_trained)d samples trained, %(wall_time_s).1f s", row)
