"""Index the ImageNet-style source dataset (SPEC §4.1–4.2)."""
from layerwise.data import imagenet
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
index = imagenet.imagenet_index(snakemake.params.imagenet_root)
write_csv(index, snakemake.output[0])
log.info("%d images, %d classes", len(index), index["wnid"].nunique())
