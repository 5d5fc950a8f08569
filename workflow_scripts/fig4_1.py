"""Fig 4-1: conv1 filters at three pretraining snapshots; training loss and val top-1 (§4.2)."""
import pandas as pd

from layerwise import figures
from layerwise.runtime import start_log
from layerwise.training import load_checkpoint

log = start_log(snakemake.log[0])
p = snakemake.params
filters = {i: load_checkpoint(path)["model"]["conv1.weight"].numpy()
           for i, path in zip(p.iterations, snakemake.input.snapshots)}
curve = pd.read_csv(snakemake.input.curve)
figures.set_style()
figures.save_figure(figures.training_dynamics(
    filters, curve, f"Pretraining: conv1 filters, training loss, validation top-1 ({p.run} run)"),
    snakemake.output[0])
log.info("conv1 at iterations %s; %d curve rows", p.iterations, len(curve))
