"""Selective search on one contiguous range of a split's images (SPEC §4.3)."""
import pandas as pd

from layerwise.data import proposals, voc
from layerwise.data.images import load_image
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
ids = pd.read_csv(snakemake.input.labels, dtype={"image_id": str})["image_id"].tolist()
ids = proposals.shard(ids, p.shards, int(snakemake.wildcards.shard))
boxes = [proposals.selective_search(load_image(voc.image_path(p.voc_root, i), voc.ROOT_KEY),
                                    p.max_per_image, p.min_size, proposals.image_seed(p.seed, i),
                                    p.strategy)
         for i in progress(ids, desc="images")]
proposals.write_proposals(snakemake.output[0], ids, boxes,
                          {"max_per_image": p.max_per_image, "min_size": p.min_size,
                           "strategy": p.strategy})
log.info("%d images, %d boxes", len(ids), sum(map(len, boxes)))
