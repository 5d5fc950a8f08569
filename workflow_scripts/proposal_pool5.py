"""Cache pool5 of every region (gt boxes and proposals) of one image range of a split (R-CNN)."""
from layerwise import features, training
from layerwise.detection import cache
from layerwise.runtime import progress, resolve_device, start_log

log = start_log(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
training.set_determinism(p.torch_threads)
device = resolve_device(p.device)
checkpoint = training.load_checkpoint(snakemake.input.checkpoint)
model = training.model_from_checkpoint(checkpoint, device)
size = checkpoint["arch"]["input_size"]
attrs = {"network": wc.network, "dataset": f"voc07_{wc.split}_proposals", "shard": int(wc.shard),
         "shards": p.shards, "snapshot": p.network["snapshot"],
         "iteration": checkpoint["iteration"], "width": checkpoint["arch"]["width"],
         "config_hash": features.config_hash(dict(p.items()))}
with cache.open_regions(snakemake.input.index, snakemake.input.proposals, p.voc_root, p.shards,
                        int(wc.shard), size, p.context_pad, p.pixel_mean) as source:
    bar = progress(total=len(source.images), desc="regions")
    cache.dump_pool5(model, source, snakemake.output[0], attrs, pixel_mean=p.pixel_mean,
                     batch_size=p.batch_size, dtype=p.features["dtype"],
                     compression=p.features["compression"], device=device, progress=bar.update)
    bar.close()
log.info("%s, voc07_%s shard %s: %d images, %d regions", wc.network, wc.split, wc.shard,
         len(source.extra["image_ids"]), len(source.images))
