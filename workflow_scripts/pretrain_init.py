"""Iteration 0 of pretraining: Caffe's initialisation (SPEC §6), and its validation top-1."""
import pandas as pd
import torch

from layerwise import training
from layerwise.data.images import read_images
from layerwise.io import write_csv
from layerwise.runtime import resolve_device, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
_, _, attrs = read_images(snakemake.input.train)
model_cfg = {k: p.model[k] for k in ("arch", "input_size", "width", "spp")}
checkpoint = training.init_checkpoint(**model_cfg, num_classes=len(attrs["classes"]), seed=p.seed)
val_images, val_labels, _ = read_images(snakemake.input.val)
model = training.model_from_checkpoint(checkpoint, resolve_device(p.device))
top1 = training.evaluate_top1(model, torch.from_numpy(val_images), val_labels, 256, p.pixel_mean,
                              device=resolve_device(p.device))
training.save_checkpoint(checkpoint, snakemake.output.model)
write_csv(pd.DataFrame([{"iteration": 0, "loss": None, "val_top1": 100 * top1}]),
          snakemake.output.curve)
log.info("initialised %s with %d classes; val top-1 %.2f%%", model_cfg["arch"],
         len(attrs["classes"]), 100 * top1)
