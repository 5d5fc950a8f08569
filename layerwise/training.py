"""Pretraining (SPEC §6) and fine-tuning (SPEC §7, thesis §1.2) with SGD, resumable bit for bit.

Randomness is a pure function of (seed, iteration): the data order is a seeded permutation per
epoch, and the crops, mirrors and dropout masks of iteration i come from generators seeded by
(seed, i, stream). So a run resumed from a checkpoint at iteration k repeats exactly what an
uninterrupted run does from k on, without any saved RNG state.

Checkpoints are plain dicts of state dicts, tensors, numbers and strings:
    arch        {"arch", "num_classes", "input_size", "width"}: enough to rebuild the network;
                networks with pyramid pooling add "spp": True
    model       model state dict
    optimizer   optimizer state dict (momentum buffers), None at iteration 0
    scheduler   lr scheduler state dict, None at iteration 0
    iteration   number of SGD steps taken
    seed        the seed of the run that produced it
    loss_window [sum, count] of the losses since the last log row
    train       fine-tuned checkpoints only: "all" | "fc" | "from:<layer>"
They are written atomically and read with torch.load(weights_only=True): nothing is pickled.

Inputs are uint8 RGB tensors; `models.preprocess` subtracts the pixel mean (Caffe's convention).
"""

import contextlib
import os
import pickle

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou
from tqdm import tqdm

from layerwise.io import atomic_path
from layerwise.models import build_model, param_groups, preprocess, replace_head, set_trainable

# Independent random streams per iteration (see the module docstring).
ORDER, CROP, MIRROR, DROPOUT, HEAD_INIT, FOREGROUND, BACKGROUND = range(7)
GAMMA = 0.1  # Caffe's "step" and "multistep" learning-rate policies divide by 10


# --- checkpoints -------------------------------------------------------------------------------

def save_checkpoint(checkpoint, path):
    """Write `checkpoint` to `path` atomically (`layerwise.io.atomic_path`), synced to disk."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(checkpoint, f)
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path, device="cpu"):
    """Read a checkpoint with weights_only=True, so a file holding pickled objects is refused."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is a page of advice that never names the file; keep its one fact.
        reason = next((line.strip() for line in str(e).splitlines()
                       if "Unsupported global" in line), "it holds more than tensors")
        raise pickle.UnpicklingError(f"{path}: refused, not a plain-weights checkpoint "
                                     f"(weights_only=True): {reason}") from None


def model_from_checkpoint(checkpoint, device="cpu"):
    """Rebuild the network described by `checkpoint["arch"]` and load its weights."""
    model = build_model(**checkpoint["arch"])
    model.load_state_dict(checkpoint["model"])
    return model.to(device)


def init_checkpoint(arch, num_classes, input_size, width, seed, spp=False):
    """Iteration 0 of pretraining: Caffe's initialisation drawn from `seed` (SPEC §5, §9.0 iter_0)."""
    spec = {"arch": arch, "num_classes": int(num_classes), "input_size": int(input_size),
            "width": float(width)}
    if spp:  # only then, so that networks without it keep their checkpoints byte for byte
        spec["spp"] = True
    model = build_model(**spec, seed=seed)
    return {"arch": spec, "model": _cloned(model.state_dict()), "optimizer": None,
            "scheduler": None, "iteration": 0, "seed": int(seed), "loss_window": [0.0, 0]}


def _cloned(obj):
    """A copy of a state dict with its own tensors on the CPU: a checkpoint must not change
    when training goes on from it."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cloned(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cloned(v) for v in obj)
    return obj


def _checkpoint(base, model, optimizer, scheduler, iteration, window, **extra):
    return {**base, "model": _cloned(model.state_dict()),
            "optimizer": _cloned(optimizer.state_dict()),
            "scheduler": _cloned(scheduler.state_dict()), "iteration": int(iteration),
            "loss_window": [float(window[0]), int(window[1])], **extra}


def _restore(optimizer, scheduler, checkpoint):
    if checkpoint.get("optimizer") is not None:
        # The optimizer keeps (and then updates in place) the loaded momentum tensors.
        optimizer.load_state_dict(_cloned(checkpoint["optimizer"]))
        scheduler.load_state_dict(checkpoint["scheduler"])


# --- randomness --------------------------------------------------------------------------------

def iteration_seed(seed, iteration, stream):
    """A 63-bit seed for one (run seed, iteration, stream), well mixed by numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, iteration, stream]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _generator(seed, iteration, stream):
    return torch.Generator().manual_seed(iteration_seed(seed, iteration, stream))


def batch_indices(n, batch_size, iteration, seed, stream=ORDER):
    """Indices of batch `iteration`: positions it*B .. it*B+B-1 of a sequence of seeded epoch
    permutations of range(n). Every sample is seen once per epoch; a batch may span two epochs."""
    positions = torch.arange(iteration * batch_size, (iteration + 1) * batch_size)
    epochs = positions // n
    out = torch.empty(batch_size, dtype=torch.long)
    for epoch in epochs.unique().tolist():
        order = torch.randperm(n, generator=_generator(seed, epoch, stream))
        mask = epochs == epoch
        out[mask] = order[positions[mask] % n]
    return out


# --- batches -----------------------------------------------------------------------------------

def crop_batch(images, size, generator=None):
    """Square `size` crops of uint8 (N, 3, S, S) images: random offsets drawn from `generator`,
    or the centre crop when it is None (SPEC §6)."""
    n, _, h, w = images.shape
    if generator is None:
        ys = torch.full((n,), (h - size) // 2)
        xs = torch.full((n,), (w - size) // 2)
    else:
        ys = torch.randint(0, h - size + 1, (n,), generator=generator)
        xs = torch.randint(0, w - size + 1, (n,), generator=generator)
    return torch.stack([im[:, y:y + size, x:x + size]
                        for im, y, x in zip(images, ys.tolist(), xs.tolist())])


def mirror_batch(images, generator):
    """Flip each image left-right with probability 1/2."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    out = images.clone()
    out[flip] = images[flip].flip(-1)
    return out


def classification_sampler(images, labels, input_size, crop=True):
    """Batches of a classification set held in memory (pretraining, SUN fine-tuning).

    Returns sampler(iteration, batch_size, seed) -> (uint8 (B, 3, input_size, input_size),
    int64 labels (B,)): seeded epoch order, random crops when `crop` else centre crops.
    """
    if images.shape[-1] < input_size or images.shape[-2] < input_size:
        raise ValueError(f"images of {tuple(images.shape[-2:])} px are smaller than the "
                         f"input size {input_size}")
    labels = torch.as_tensor(labels, dtype=torch.long)

    def sampler(iteration, batch_size, seed):
        idx = batch_indices(len(images), batch_size, iteration, seed)
        generator = _generator(seed, iteration, CROP) if crop else None
        return crop_batch(images[idx], input_size, generator), labels[idx]

    return sampler


# --- the SGD loop ------------------------------------------------------------------------------

def set_determinism(threads=None):
    """Deterministic kernels (warn only where none exists, e.g. CUDA max-pool backward) and a
    fixed thread count: CPU reductions are split by thread, so the count must not change."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)


def _sgd(model, lr, momentum, weight_decay, head_lr_mult=1.0):
    groups = param_groups(model, lr, weight_decay, head_lr_mult)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def cuda_speedups(model, device, amp, channels_last):
    """bf16 autocast and channels-last memory on CUDA when the config asks (SPEC §13, issue 3);
    on the CPU both stay off, so CPU runs keep their bit-for-bit determinism.
    Returns (autocast context factory, memory format for inputs)."""
    on_cuda = torch.device(device).type == "cuda"
    fmt = torch.channels_last if channels_last and on_cuda else torch.contiguous_format
    model.to(memory_format=fmt)
    if amp and on_cuda:
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), fmt
    return contextlib.nullcontext, fmt


def _train(model, optimizer, scheduler, sampler, start, stop, *, batch_size, seed, mirror,
           pixel_mean, log_every, window, device, progress, amp=False, channels_last=False):
    """SGD steps start..stop-1; log rows hold the mean loss of each `log_every` interval."""
    model.train()
    autocast, fmt = cuda_speedups(model, device, amp, channels_last)
    rows, (loss_sum, count) = [], window
    for it in tqdm(range(start, stop), disable=not progress, mininterval=10, desc="sgd"):
        images, labels = sampler(it, batch_size, seed)
        if mirror:
            images = mirror_batch(images, _generator(seed, it, MIRROR))
        torch.manual_seed(iteration_seed(seed, it, DROPOUT))  # dropout draws from the global RNG
        x = preprocess(images.to(device), pixel_mean).contiguous(memory_format=fmt)
        with autocast():
            loss = F.cross_entropy(model(x), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum, count = loss_sum + loss.item(), count + 1
        if (it + 1) % log_every == 0:
            rows.append({"iteration": it + 1, "loss": loss_sum / count})
            loss_sum, count = 0.0, 0
    return rows, (loss_sum, count)


# --- pretraining (SPEC §6) ---------------------------------------------------------------------

def pretrain_segment(checkpoint, images, labels, start, stop, *, cfg, seed, pixel_mean,
                     device="cpu", model_cfg=None, num_classes=None, threads=None,
                     progress=False, amp=False, channels_last=False):
    """Continue ImageNet-style pretraining from iteration `start` to `stop` (thesis §1.1, SPEC §6).

    checkpoint: the state at `start`, or None to begin from `init_checkpoint(**model_cfg,
    num_classes=num_classes, seed=seed)` at 0. images: uint8 (N, 3, S, S) with S >= the input
    size; labels: (N,) class ids. cfg: the config's `pretrain` section (batch_size, lr, lr_steps,
    momentum, weight_decay, crop, mirror, log_every). SGD with momentum, Caffe's parameter
    groups, lr divided by 10 at each of `lr_steps`. Returns (checkpoint at `stop`, log rows
    [{"iteration", "loss"}]). Training 0 -> N in one call or in several gives identical bits.
    """
    if checkpoint is None:
        checkpoint = init_checkpoint(**model_cfg, num_classes=num_classes, seed=seed)
    if checkpoint["iteration"] != start or not start <= stop:
        raise ValueError(f"checkpoint is at iteration {checkpoint['iteration']}, "
                         f"asked to train {start} -> {stop}")
    set_determinism(threads)
    model = model_from_checkpoint(checkpoint, device)
    optimizer = _sgd(model, cfg["lr"], cfg["momentum"], cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(cfg["lr_steps"]), GAMMA)
    _restore(optimizer, scheduler, checkpoint)
    sampler = classification_sampler(images, labels, model.input_size, cfg["crop"])
    rows, window = _train(model, optimizer, scheduler, sampler, start, stop,
                          batch_size=cfg["batch_size"], seed=seed, mirror=cfg["mirror"],
                          pixel_mean=pixel_mean, log_every=cfg["log_every"],
                          window=checkpoint["loss_window"], device=device, progress=progress,
                          amp=amp, channels_last=channels_last)
    return _checkpoint(checkpoint, model, optimizer, scheduler, stop, window, seed=seed), rows


@torch.no_grad()
def evaluate_top1(model, images, labels, batch, pixel_mean, device="cpu"):
    """Top-1 accuracy (a fraction) on centre crops of uint8 (N, 3, S, S) images (thesis §4)."""
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = crop_batch(images[i:i + batch], model.input_size).to(device)
        pred = model(preprocess(x, pixel_mean)).argmax(1).cpu()
        correct += (pred == torch.as_tensor(labels[i:i + batch])).sum().item()
    model.train(was_training)
    return correct / len(images)


# --- fine-tuning windows (R-CNN, SPEC §7) ------------------------------------------------------

def label_windows(proposals, gt_boxes, gt_classes, fg_iou=0.5):
    """R-CNN window labels: the class of the best-overlapping ground truth when its IoU >= fg_iou,
    else 0 (background). Boxes are 1-based inclusive VOC x1, y1, x2, y2, so widths are
    x2 - x1 + 1. Returns (labels int64 (M,), max IoU float64 (M,))."""
    proposals = torch.as_tensor(proposals, dtype=torch.float64).reshape(-1, 4)
    gt_boxes = torch.as_tensor(gt_boxes, dtype=torch.float64).reshape(-1, 4)
    gt_classes = torch.as_tensor(gt_classes, dtype=torch.long).reshape(-1)
    if len(gt_boxes) == 0:
        return torch.zeros(len(proposals), dtype=torch.long), torch.zeros(len(proposals),
                                                                           dtype=torch.float64)
    # Inclusive pixel boxes become half-open ones, which is what box_iou measures.
    end = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    max_iou, best = box_iou(proposals + end, gt_boxes + end).max(dim=1)
    labels = torch.where(max_iou >= fg_iou, gt_classes[best], 0)
    return labels, max_iou


def build_windows(gt_boxes, gt_classes, proposals, fg_iou=0.5):
    """All fine-tuning windows of a set of images: ground-truth boxes and proposals, labelled by
    `label_windows` (R-CNN). Arguments are per-image lists; classes are 1..20 so that 0 is
    background in the 21-way head. Returns (image_index (M,), boxes (M, 4), labels (M,)) as
    numpy arrays."""
    index, boxes, labels = [], [], []
    for i, (gt, cls, props) in enumerate(zip(gt_boxes, gt_classes, proposals)):
        windows = np.concatenate([np.reshape(gt, (-1, 4)), np.reshape(props, (-1, 4))])
        lab, _ = label_windows(windows, gt, cls, fg_iou)
        index.append(np.full(len(windows), i))
        boxes.append(windows)
        labels.append(lab.numpy())
    return np.concatenate(index), np.concatenate(boxes), np.concatenate(labels)


def windows_warper(images, warp_box, size, context_pad, mean_rgb):
    """warp(image_index (B,), boxes (B, 4)) -> uint8 (B, 3, size, size): each window warped by
    `warp_box(image_hwc_uint8, box, size, context_pad, mean_rgb)` (R-CNN warp with context)."""
    def warp(image_index, boxes):
        patches = [warp_box(images[i], box, size, context_pad, mean_rgb)
                   for i, box in zip(np.asarray(image_index).tolist(), np.asarray(boxes))]
        return torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).contiguous()
    return warp


def detection_sampler(image_index, boxes, labels, warp, fg_per_batch, crop_size=None):
    """R-CNN fine-tuning batches: `fg_per_batch` foreground and the rest background windows,
    each pool read in its own seeded epoch order (no replacement within an epoch).

    Returns sampler(iteration, batch_size, seed) -> (uint8 (B, 3, s, s), int64 labels (B,));
    `warp(image_index, boxes)` makes the patches (see `windows_warper`). With `crop_size`, each
    patch is a random crop of that size from the warped window (crop augmentation, seed 004;
    R-CNN itself does not crop), so `warp` should then make patches larger than `crop_size`.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    fg = torch.nonzero(labels > 0).flatten()
    bg = torch.nonzero(labels == 0).flatten()
    if len(fg) == 0 or len(bg) == 0:
        raise ValueError(f"need foreground and background windows, got {len(fg)} and {len(bg)}")
    image_index, boxes = np.asarray(image_index), np.asarray(boxes)

    def sampler(iteration, batch_size, seed):
        if batch_size <= fg_per_batch:
            raise ValueError(f"batch of {batch_size} cannot hold {fg_per_batch} foreground")
        pick = torch.cat([
            fg[batch_indices(len(fg), fg_per_batch, iteration, seed, FOREGROUND)],
            bg[batch_indices(len(bg), batch_size - fg_per_batch, iteration, seed, BACKGROUND)],
        ])
        patches = warp(image_index[pick.numpy()], boxes[pick.numpy()])
        if crop_size is not None:
            patches = crop_batch(patches, crop_size, _generator(seed, iteration, CROP))
        return patches, labels[pick]

    return sampler


# --- fine-tuning (SPEC §7, thesis §1.2) --------------------------------------------------------

def start_finetune(source, num_classes, head_init_std, seed):
    """The iteration-0 fine-tuning checkpoint: `source`'s weights with a new fc8 head."""
    model = model_from_checkpoint(source)
    replace_head(model, num_classes, head_init_std, _generator(seed, 0, HEAD_INIT))
    arch = {**source["arch"], "num_classes": int(num_classes)}
    return {"arch": arch, "model": _cloned(model.state_dict()), "optimizer": None,
            "scheduler": None, "iteration": 0, "seed": int(seed), "loss_window": [0.0, 0]}


def finetune(source, sampler, iters, *, train, lr, lr_step, head_lr_mult, head_init_std,
             num_classes, mirror, batch_size, seed, pixel_mean, device="cpu", momentum=0.9,
             weight_decay=5e-4, log_every=50, resume=None, stop=None, save_every=0,
             save_path=None, threads=None, progress=False, amp=False, channels_last=False):
    """Fine-tune a pretrained checkpoint for `iters` SGD iterations (thesis §1.2, SPEC §7).

    source: a pretraining checkpoint (dict or path); its fc8 is replaced by a `num_classes` head
    (Gaussian `head_init_std`, lr x `head_lr_mult`). train: "all" (FT), "fc" (FC-FT) or
    "from:<layer>"; frozen layers get no gradient and are not in the optimizer. lr is divided
    by 10 every `lr_step` iterations; momentum and weight decay default to R-CNN's solver.
    sampler(iteration, batch_size, seed) -> (uint8 images, labels) gives the batches
    (`detection_sampler`, `classification_sampler`). A `resume` checkpoint continues where it
    stopped; `stop` ends early (for chaining); every `save_every` iterations the state is saved
    to `save_path`. Returns (checkpoint, log rows).
    """
    if isinstance(source, (str, os.PathLike)):
        source = load_checkpoint(source)
    checkpoint = resume if resume is not None else start_finetune(source, num_classes,
                                                                  head_init_std, seed)
    if checkpoint.get("train", train) != train:
        raise ValueError(f"resume checkpoint trains {checkpoint['train']!r}, asked for {train!r}")
    set_determinism(threads)
    model = set_trainable(model_from_checkpoint(checkpoint, device), train)
    optimizer = _sgd(model, lr, momentum, weight_decay, head_lr_mult)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, lr_step, GAMMA)
    _restore(optimizer, scheduler, checkpoint)
    start, stop = checkpoint["iteration"], iters if stop is None else min(stop, iters)
    window, rows = checkpoint["loss_window"], []
    chunk = save_every or max(stop - start, 1)
    for chunk_start in range(start, stop, chunk):
        chunk_stop = min(stop, chunk_start + chunk)
        new_rows, window = _train(model, optimizer, scheduler, sampler, chunk_start, chunk_stop,
                                  batch_size=batch_size, seed=seed, mirror=mirror,
                                  pixel_mean=pixel_mean, log_every=log_every, window=window,
                                  device=device, progress=progress, amp=amp,
                                  channels_last=channels_last)
        rows += new_rows
        checkpoint = _checkpoint(checkpoint, model, optimizer, scheduler, chunk_stop, window,
                                 train=train)
        if save_path is not None and save_every:
            save_checkpoint(checkpoint, save_path)
    return checkpoint, rows
