"""One pretraining segment: continue SGD from the previous snapshot to this one (SPEC §6)."""
import pandas as pd
import torch

from layerwise import training
from layerwise.data.images import read_images
from layerwise.io import write_csv
from layerwise.runtime import resolve_device, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
device = resolve_device(p.device)
stop = int(snakemake.wildcards.iter)
images, labels, _ = read_images(snakemake.input.train)
checkpoint, rows = training.pretrain_segment(
    training.load_checkpoint(snakemake.input.previous), torch.from_numpy(images), labels,
    p.start, stop, cfg=p.pretrain, seed=p.seed, pixel_mean=p.pixel_mean, device=device,
    threads=p.torch_threads, progress=True, **p.cuda)
val_images, val_labels, _ = read_images(snakemake.input.val)
top1 = training.evaluate_top1(training.model_from_checkpoint(checkpoint, device),
                              torch.from_numpy(val_images), val_labels, 256, p.pixel_mean, device)
curve = pd.DataFrame(rows, columns=["iteration", "loss"]).set_index("iteration")
curve.loc[stop, "val_top1"] = 100 * top1
training.save_checkpoint(checkpoint, snakemake.output.model)
write_csv(curve.reset_index(), snakemake.output.curve)
log.info("iterations %d -> %d; val top-1 %.2f%%", p.start, stop, 100 * top1)
