"""The gt-box patches that activate chosen units of one layer most (seed 002, Zeiler & Fergus)."""
import h5py

from layerwise import figures, visualisation
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p, layer = snakemake.params, snakemake.wildcards.layer
with h5py.File(snakemake.input.features, "r") as feats, \
        h5py.File(snakemake.input.patches, "r") as pack:
    if len(feats["features"]) != len(pack["patches"]):
        raise ValueError(f"{snakemake.input.features} has {len(feats['features'])} rows but "
                         f"{snakemake.input.patches} {len(pack['patches'])}: out of step")
    indices, scores = visualisation.top_activations(feats["features"], p.units)
    labels = feats["labels"][:]
    fig = visualisation.top_patches_figure(
        pack["patches"], labels, p.units, indices, scores,
        f"{p.network}, {layer}: the VOC 2007 test gt boxes that activate each unit most "
        f"(spatial max; {p.run} run)")
figures.save_figure(fig, snakemake.output[0])
for unit, rows, values in zip(p.units, indices, scores):
    log.info("%s unit %d: rows %s, activations %s", layer, unit, rows.tolist(),
             [round(float(v), 3) for v in values])
