"""Seed 000's figures: precision and recall, and training time, vs switch_epoch."""
import pandas as pd

from layerwise import figures
from layerwise.experiments import patch_pretraining
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
table = pd.read_csv(snakemake.input[0])
figures.set_style()
where = f"{p.model['arch']}, VOC 2007 test ({p.run} run)"
figures.save_figure(patch_pretraining.precision_recall_figure(
    table, f"Patch pre-training: {where}"), snakemake.output.pr[0])
figures.save_figure(patch_pretraining.training_time_figure(
    table, f"Patch pre-training: training time, {where}"), snakemake.output.time[0])
log.info("%d switch_epoch values", len(table))
