"""Experiments from the other seeds that train networks of their own (SPEC §11).

- `patch_pretraining`: seed 000 (patch head and image head, `switch_epoch`);
- `similarity_cache`: seed 003 (skip samples whose conv feature vector hits the class cache).

Both train for whole epochs, as their seeds do. The randomness of SGD step s (data order of
epoch e, crop, mirror, dropout) is drawn from (seed, e or s, stream) exactly as in
`layerwise.training`, so the same config gives the same bits on the CPU.
"""

import torch

from layerwise.models import param_groups, preprocess
from layerwise.training import CROP, DROPOUT, MIRROR, ORDER, crop_batch, iteration_seed, mirror_batch


def seeded(seed, step, stream):
    """A torch generator for one (run seed, step, stream), as `layerwise.training` draws them."""
    return torch.Generator().manual_seed(iteration_seed(seed, step, stream))


def epoch_batches(n, batch_size, epoch, seed):
    """The index batches of one epoch: a permutation of range(n) seeded by (seed, epoch), cut
    into batches of `batch_size` (the last one may be shorter)."""
    order = torch.randperm(n, generator=seeded(seed, epoch, ORDER))
    return list(order.split(batch_size))


def sgd(modules, lr, momentum, weight_decay):
    """SGD with momentum over several modules, each with Caffe's parameter groups (bias lr x2,
    no decay on biases; `models.param_groups`)."""
    groups = [g for module in modules for g in param_groups(module, lr, weight_decay)]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum)


def step_inputs(images, size, step, seed, *, crop, mirror, pixel_mean, device):
    """Network input of SGD step `step` from uint8 (B, 3, S, S) images: the step's seeded random
    `size` crop (else the centre crop) and mirror; also seeds dropout's global RNG for the step."""
    images = crop_batch(images, size, seeded(seed, step, CROP) if crop else None)
    if mirror:
        images = mirror_batch(images, seeded(seed, step, MIRROR))
    torch.manual_seed(iteration_seed(seed, step, DROPOUT))  # dropout draws from the global RNG
    return preprocess(images.to(device), pixel_mean)
