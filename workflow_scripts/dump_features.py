"""Dump the seven layers' activations of one network on one dataset (SPEC §8)."""
from layerwise import features, training
from layerwise.runtime import progress, resolve_device, start_log

log = start_log(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
training.set_determinism(snakemake.params.torch_threads)
device = resolve_device(p.device)
checkpoint = training.load_checkpoint(snakemake.input.checkpoint)
model = training.model_from_checkpoint(checkpoint, device)
outputs = {path.rsplit("/", 1)[1][: -len(".h5")]: path for path in snakemake.output}
attrs = {"network": wc.network, "dataset": wc.dataset, "snapshot": p.network["snapshot"],
         "iteration": checkpoint["iteration"], "width": checkpoint["arch"]["width"],
         "config_hash": features.config_hash(dict(p.items()))}
paths = {k: v for k, v in snakemake.input.items() if k != "checkpoint"}
with features.open_source(wc.dataset, **paths) as source:
    bar = progress(total=len(source.images), desc="samples")
    features.dump_features(model, source, outputs, attrs, pixel_mean=p.pixel_mean,
                           batch_size=p.features["batch_size"], dtype=p.features["dtype"],
                           compression=p.features["compression"], device=device,
                           progress=bar.update)
    bar.close()
log.info("%s on %s: %d samples, layers %s", wc.network, wc.dataset, len(source.images),
         ", ".join(outputs))
