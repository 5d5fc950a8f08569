"""One point of seed 000's switch_epoch sweep: patch pre-training, then precision and recall."""
import h5py
import pandas as pd

from layerwise.data.images import read_images
from layerwise.experiments import patch_pretraining
from layerwise.io import write_csv
from layerwise.runtime import resolve_device, start_log
from layerwise.training import load_checkpoint

log = start_log(snakemake.log[0])
p = snakemake.params
with h5py.File(snakemake.input.patches, "r") as f:
    patches, patch_labels = f["patches"][:], f["labels"][:]
train_images, train_labels, attrs = read_images(snakemake.input.train)
test_images, test_labels, _ = read_images(snakemake.input.test)
# The rule has a snapshot input only under init pretrained.
source = load_checkpoint(snakemake.input.snapshot) if p.experiment["init"] == "pretrained" else None
row = patch_pretraining.run(
    patches, patch_labels, train_images, train_labels, test_images, test_labels,
    model_cfg=p.model, switch_epoch=int(snakemake.wildcards.switch), cfg=p.experiment,
    seed=p.seed, pixel_mean=p.pixel_mean, source=source, head_init_std=p.head_init_std,
    classes=list(attrs["classes"]),
    device=resolve_device(p.device), threads=p.torch_threads, progress=True)
write_csv(pd.DataFrame([row]).round({"precision": 2, "recall": 2, "train_time_s": 1}),
          snakemake.output[0])
log.info("switch_epoch %(switch_epoch)d: precision %(precision).2f%%, recall %(recall).2f%%, "
         "%(train_time_s).1f s of training", row)
