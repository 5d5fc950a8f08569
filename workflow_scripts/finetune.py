"""Fine-tune one named network (SPEC §7): R-CNN windows for voc_det, scenes for sun."""
import os

import pandas as pd
import torch

from layerwise import training
from layerwise.data.images import read_images
from layerwise.data.regions import load_regions
from layerwise.data.warp import scaled_context_pad, warp_box
from layerwise.io import resumable_path, write_csv
from layerwise.runtime import resolve_device, start_log

log = start_log(snakemake.log[0])
p, spec, task = snakemake.params, snakemake.params.spec, snakemake.params.task
source = training.load_checkpoint(snakemake.input.base)
size = source["arch"]["input_size"]
if spec["task"] == "voc_det":
    images, gt_boxes, gt_classes, proposals = load_regions(
        snakemake.input.index, snakemake.input.proposals, p.voc_root, p.include_difficult)
    index, boxes, labels = training.build_windows(gt_boxes, gt_classes, proposals, task["fg_iou"])
    # With crop on, windows are warped to the stored size and randomly cropped to the input.
    warp_size = p.stored_size if task["crop"] else size
    warp = training.windows_warper(images, warp_box, warp_size,
                                   scaled_context_pad(p.context_pad, warp_size), p.pixel_mean)
    sampler = training.detection_sampler(index, boxes, labels, warp, task["fg_per_batch"],
                                         size if task["crop"] else None)
    num_classes = 21  # background + the 20 VOC classes
    log.info("%d windows, %d foreground", len(labels), int((labels > 0).sum()))
else:
    images, labels, attrs = read_images(snakemake.input.train)
    sampler = training.classification_sampler(torch.from_numpy(images), labels, size,
                                              task["crop"])
    num_classes = len(attrs["classes"])
# A killed job resumes from its last saved state, but only into an identical re-run.
files = [f for f in snakemake.input if os.path.isfile(f)]
partial = resumable_path(snakemake.output.model, *files, **dict(p.items()))
resume = training.load_checkpoint(partial) if partial.exists() else None
if resume is not None:
    log.info("resuming from the state saved at iteration %d", resume["iteration"])
checkpoint, rows = training.finetune(
    source, sampler, spec["iters"], train=spec["train"], lr=task["lr"], lr_step=task["lr_step"],
    head_lr_mult=task["head_lr_mult"], head_init_std=task["head_init_std"],
    num_classes=num_classes, mirror=task["mirror"], batch_size=task["batch_size"], seed=p.seed,
    pixel_mean=p.pixel_mean, device=resolve_device(p.device), **p.solver,
    resume=resume, save_every=p.checkpoint_every, save_path=partial, threads=p.torch_threads,
    progress=True, **p.cuda)
training.save_checkpoint(checkpoint, snakemake.output.model)
partial.unlink(missing_ok=True)
write_csv(pd.DataFrame(rows, columns=["iteration", "loss"]),
          snakemake.output.curve)
log.info("%s: %d iterations of %s fine-tuning (train: %s)", snakemake.wildcards.net,
         spec["iters"], spec["task"], spec["train"])
