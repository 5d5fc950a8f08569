"""Patch pre-training (seed 000, Nevgi, "Hierarchical Feature Learning in Deep Convolutional
Networks"; SPEC §11).

The network gets two heads on its last convolutional map (pool5): a *patch head* (the seed's
extra branch: adaptive average pooling to 4x4 and three fully connected layers) trained with
single-label cross-entropy on the PatchSet (object crops, one label each), and the network's
own *image head* (fc6, fc7, fc8 with one output per class) trained with multi-label
BCEWithLogits on whole images, positives weighted by the training distribution. Algorithm 1 of
the seed: the epochs before `switch_epoch` train on patches, the rest on whole images; each
epoch runs one branch only. Evaluation (seed §5): per-class 2x2 confusion matrices of the image
head on the test images (`sklearn.metrics.multilabel_confusion_matrix`), summed over classes,
give one precision and one recall.

The network starts either from Caffe's initialisation (`scratch`) or from a pretraining
snapshot's trunk with new heads (`pretrained`, see `networks`).
"""

import time
from typing import Callable, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import multilabel_confusion_matrix
from torch import nn
from tqdm import tqdm

from layerwise.experiments import epoch_batches, sgd, step_inputs
from layerwise.models import build_model, extract_taps, preprocess
from layerwise.training import model_from_checkpoint, set_determinism, start_finetune

PATCH, IMAGE = "patch", "image"
PATCH_POOL = 4  # the seed's AdaptiveAvgPool output size on the patch branch


class Phase(NamedTuple):
    """What one kind of epoch trains on: a data set, the branch it runs and its loss."""
    name: str
    images: torch.Tensor          # uint8 (N, 3, S, S)
    targets: torch.Tensor         # patch: class ids (N,); image: multi-hot float (N, K)
    forward: Callable             # network input -> logits of this branch
    loss: Callable                # (logits, targets) -> scalar


def phase_of_epoch(epoch, switch_epoch, patch, image):
    """Seed 000, Algorithm 1: epoch `epoch` (0-based) trains `patch` if epoch < switch_epoch,
    else `image`. switch_epoch 0 is the baseline that never sees a patch."""
    return patch if epoch < switch_epoch else image


def patch_head(in_channels, hidden, num_classes, seed):
    """The seed's patch branch (Fig. 5): AdaptiveAvgPool 4x4 then three fully connected layers
    with ReLU and dropout between them, like the image head. PyTorch's default init, drawn
    from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(PATCH_POOL), nn.Flatten(),
            nn.Linear(in_channels * PATCH_POOL * PATCH_POOL, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))


def present(voc_labels):
    """Multi-hot targets from VOC labels (1 present, -1 absent, 0 only difficult objects): a
    class is present when the image holds any object of it, difficult or not, as the seed's
    multi-hot encoding of the annotations does."""
    return torch.as_tensor(np.asarray(voc_labels) != -1, dtype=torch.float32)


def positive_weights(targets, classes=None):
    """BCEWithLogits positive-class weights from the training distribution (seed 000 §4):
    negatives / positives per class, so both sides of every class weigh the same in the loss."""
    positives = targets.sum(0)
    if (positives == 0).any():
        missing = [classes[i] if classes is not None else i
                   for i in torch.nonzero(positives == 0).flatten().tolist()]
        raise ValueError(f"no training image holds class(es) {missing}: no positive weight")
    return (len(targets) - positives) / positives


def summed_confusion(truth, predicted):
    """Seed 000 §5: per-class confusion matrices (sklearn's multilabel_confusion_matrix, K x 2
    x 2) summed over the classes into one {tp, fp, fn, tn}."""
    (tn, fp), (fn, tp) = multilabel_confusion_matrix(np.asarray(truth, dtype=int),
                                                     np.asarray(predicted, dtype=int)).sum(0)
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


def precision_recall(counts):
    """precision = TP / (TP + FP), recall = TP / (TP + FN), in percent; NaN when undefined."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = 100 * tp / (tp + fp) if tp + fp else float("nan")
    recall = 100 * tp / (tp + fn) if tp + fn else float("nan")
    return precision, recall


@torch.no_grad()
def predict_present(model, images, pixel_mean, batch=256, device="cpu"):
    """Multi-label predictions of the image head: sigmoid(logit) > 0.5, i.e. logit > 0."""
    was_training = model.training
    model.eval()
    out = [model(preprocess(images[i:i + batch].to(device), pixel_mean)).cpu() > 0
           for i in range(0, len(images), batch)]
    model.train(was_training)
    return torch.cat(out).numpy()


def train(patch, image, epochs, switch_epoch, *, params, batch_size, lr, momentum,
          weight_decay, mirror, seed, pixel_mean, input_size, device="cpu", progress=False):
    """SGD for `epochs` epochs, each on the phase `phase_of_epoch` picks (seed 000, Algorithm 1).

    patch, image: `Phase`s; params: the modules whose parameters SGD updates (network and
    patch head). A branch idle in an epoch gets no gradient, so SGD leaves it as it is.
    Returns the wall time of the SGD steps in seconds (it varies from run to run).
    """
    optimizer = sgd(params, lr, momentum, weight_decay)
    seconds, step = 0.0, 0
    for epoch in range(epochs):
        phase = phase_of_epoch(epoch, switch_epoch, patch, image)
        start = time.perf_counter()
        for idx in tqdm(epoch_batches(len(phase.images), batch_size, epoch, seed),
                        disable=not progress, mininterval=10, desc=f"epoch {epoch} {phase.name}"):
            x = step_inputs(phase.images[idx], input_size, step, seed, crop=False,
                            mirror=mirror, pixel_mean=pixel_mean, device=device)
            loss = phase.loss(phase.forward(x), phase.targets[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        seconds += time.perf_counter() - start
    return seconds


def networks(model_cfg, num_classes, seed, device="cpu", source=None, head_init_std=0.01):
    """The network (its fc8 is the image head) and the patch head sized from its pool5 and fc6
    widths; the patch head is drawn from `seed` (`patch_head`).

    source None (init `scratch`): a fresh network from the config's `model` section, Caffe's
    initialisation drawn from `seed`. source a pretraining checkpoint (init `pretrained`): its
    conv1..conv5, fc6 and fc7 weights with a new fc8 of `num_classes` outputs, Gaussian
    `head_init_std` and zero bias, built by `training.start_finetune` exactly as a fine-tuned
    network starts (thesis §1.2). The demo's stand-in for a network that starts from ImageNet
    weights: the source set plays ImageNet.
    """
    if source is None:
        model = build_model(**model_cfg, num_classes=num_classes, seed=seed)
    else:
        built = {key: source["arch"].get(key, False) for key in model_cfg}
        if built != dict(model_cfg):
            raise ValueError(f"the pretraining checkpoint is a {built} network, but the "
                             f"config's model section asks for {dict(model_cfg)}")
        model = model_from_checkpoint(start_finetune(source, num_classes, head_init_std, seed))
    model = model.to(device)
    size = model.input_size
    with torch.no_grad():
        shapes = extract_taps(model.eval(), torch.zeros(1, 3, size, size, device=device),
                              ("pool5", "fc6"))
    head = patch_head(shapes["pool5"].shape[1], shapes["fc6"].shape[1], num_classes, seed)
    return model.train(), head.to(device).train()


def phases(model, head, patches, patch_labels, images, targets, classes=None):
    """The two kinds of epoch (seed 000 §4): PatchSet crops through the patch branch with
    cross-entropy, and whole images through the image head with BCEWithLogits whose positive
    weights come from `targets` (multi-hot, the training distribution)."""
    device = next(model.parameters()).device
    bce = nn.BCEWithLogitsLoss(pos_weight=positive_weights(targets, classes).to(device))
    patch = Phase(PATCH, torch.as_tensor(patches), torch.as_tensor(patch_labels),
                  lambda x: head(extract_taps(model, x, ("pool5",))["pool5"]), F.cross_entropy)
    image = Phase(IMAGE, torch.as_tensor(images), targets, model, bce)
    return patch, image


def run(patches, patch_labels, train_images, train_labels, test_images, test_labels, *,
        model_cfg, switch_epoch, cfg, seed, pixel_mean, source=None, head_init_std=0.01,
        classes=None, device="cpu", threads=None, progress=False):
    """One point of the switch_epoch sweep (seed 000 §5): train the networks of `networks`
    (from scratch, or from the pretraining checkpoint `source` with new heads of
    `head_init_std`), then score the image head on the test images.

    patches: uint8 (N, 3, S, S) PatchSet crops with class ids `patch_labels`; train/test
    images: uint8 whole images with VOC labels (N, K) of 1 / -1 / 0, all at the network's
    input size. model_cfg: the config's `model` section; cfg: `experiments.patch_pretraining`
    (epochs, batch_size, lr, momentum, weight_decay, mirror). Returns {switch_epoch, precision,
    recall, tp, fp, fn, tn, train_time_s}: precision and recall in percent, the training time
    in wall seconds.
    """
    if not 0 <= switch_epoch <= cfg["epochs"]:
        raise ValueError(f"switch_epoch {switch_epoch} is outside 0..{cfg['epochs']} (epochs)")
    set_determinism(threads)
    model, head = networks(model_cfg, train_labels.shape[1], seed, device, source, head_init_std)
    patch, image = phases(model, head, patches, patch_labels, train_images,
                          present(train_labels), classes)
    seconds = train(patch, image, cfg["epochs"], switch_epoch, params=[model, head],
                    batch_size=cfg["batch_size"], lr=cfg["lr"], momentum=cfg["momentum"],
                    weight_decay=cfg["weight_decay"], mirror=cfg["mirror"], seed=seed,
                    pixel_mean=pixel_mean, input_size=model.input_size, device=device,
                    progress=progress)
    predicted = predict_present(model, torch.as_tensor(test_images), pixel_mean, device=device)
    counts = summed_confusion(present(test_labels).numpy(), predicted)
    precision, recall = precision_recall(counts)
    return {"switch_epoch": switch_epoch, "precision": precision, "recall": recall, **counts,
            "train_time_s": seconds}


def precision_recall_figure(table, title):
    """Seed 000 Fig. 8: precision and recall (%) vs switch_epoch, from rows of `run`."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for column in ("precision", "recall"):
        ax.plot(table["switch_epoch"], table[column], marker="o", label=column)
    ax.set(xlabel="switch_epoch (epochs trained on patches)", ylabel="%", title=title,
           xticks=table["switch_epoch"])
    ax.legend()
    return fig


def training_time_figure(table, title):
    """Seed 000 Fig. 9: training wall time vs switch_epoch (it varies from run to run)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(table["switch_epoch"], table["train_time_s"], marker="o", color="tab:gray")
    ax.set(xlabel="switch_epoch (epochs trained on patches)", ylabel="training wall time (s)",
           title=title, xticks=table["switch_epoch"])
    ax.set_ylim(bottom=0)
    return fig
