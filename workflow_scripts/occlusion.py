"""Occlusion sensitivity of a fine-tuned detector on VOC 2007 test gt boxes (seed 002, Fig. 7)."""
import h5py
import torch

from layerwise import figures, training, visualisation
from layerwise.runtime import resolve_device, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
training.set_determinism(p.torch_threads)
device = resolve_device(p.device)
checkpoint = training.load_checkpoint(snakemake.input.model)
if checkpoint["arch"]["num_classes"] != 21:
    raise ValueError(f"config key visualisation.occlusion.network: {p.network} has "
                     f"{checkpoint['arch']['num_classes']} outputs, not the 21 of a VOC "
                     "detection head (fine-tune it with task voc_det)")
model = training.model_from_checkpoint(checkpoint, device)
with h5py.File(snakemake.input.patches, "r") as f:
    patches, labels = torch.from_numpy(f["patches"][:]), f["labels"][:]
probs = visualisation.class_probabilities(model, patches, p.pixel_mean, device=device)
rows = visualisation.confident_examples(probs.numpy(), labels, p.occlusion["images"])
results = []
for row in rows:
    res = visualisation.occlusion_maps(model, patches[row], int(labels[row]) + 1, p.pixel_mean,
                                       p.occlusion["square"], p.occlusion["stride"],
                                       device=device)
    log.info("box %d: pool5 map %d; activation %.3g clean, %.3g..%.3g occluded; p(true) %.3f "
             "clean, %.3f..%.3f occluded", row, res["unit"], res["clean_activation"],
             res["activation"].min(), res["activation"].max(), res["clean_probability"],
             res["probability"].min(), res["probability"].max())
    results.append(res)
fig = visualisation.occlusion_figure(
    [patches[r] for r in rows], [int(labels[r]) for r in rows], results, p.occlusion["square"],
    f"Occlusion sensitivity of {p.network} on VOC 2007 test gt boxes, "
    f"{p.occlusion['square']} px grey square ({p.run} run)")
figures.save_figure(fig, snakemake.output[0])
