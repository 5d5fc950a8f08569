"""The networks of the thesis: CaffeNet and a narrow AlexNet with the same layer names.

Thesis §1.1: layers 1, 2 are conv -> relu -> pool -> norm, layers 3, 4 conv -> relu, layer 5
conv -> relu -> pool, layers 6, 7 fully connected (relu, dropout), fc8 the classifier. A layer
named without a sub-layer means the pooling output for 1, 2, 5 and the relu output for 3, 4, 6, 7;
those are the taps (`TAPS`), read before LRN and before dropout.

Every module has a name, and one ordered list (`SEQUENCE`) says how they are chained, so the
forward pass, the taps and the frozen prefix of fine-tuning all walk the same list.
"""

import math

import torch
from torch import nn

TAPS = ("pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
SEQUENCE = (
    "conv1", "relu1", "pool1", "norm1",
    "conv2", "relu2", "pool2", "norm2",
    "conv3", "relu3",
    "conv4", "relu4",
    "conv5", "relu5", "pool5",
    "flatten",
    "fc6", "relu6", "drop6",
    "fc7", "relu7", "drop7",
    "fc8",
)
# A tap is the output of this module (thesis §1.1: after relu, after pooling for 1, 2, 5).
TAP_MODULE = {"pool1": "pool1", "pool2": "pool2", "conv3": "relu3", "conv4": "relu4",
              "pool5": "pool5", "fc6": "relu6", "fc7": "relu7"}
HEAD = ("fc8",)

# Caffe's filler rules for the BVLC reference CaffeNet (SPEC §5).
INIT_STD = {"fc6": 0.005, "fc7": 0.005}
ZERO_BIAS = ("conv1", "conv3", "fc8")
# Inputs per output unit in CaffeNet (conv2, conv4 and conv5 see half the channels: groups of 2).
CAFFENET_FAN_IN = {"conv1": 3 * 11 * 11, "conv2": 48 * 5 * 5, "conv3": 256 * 3 * 3,
                   "conv4": 192 * 3 * 3, "conv5": 192 * 3 * 3, "fc6": 256 * 6 * 6,
                   "fc7": 4096, "fc8": 4096}


def conv_spec(arch, width=1.0):
    """(out_channels, kernel, stride, padding, groups) of conv1..conv5 (SPEC §5)."""
    channels = [96, 256, 384, 384, 256]
    if arch == "caffenet":
        first = (11, 4, 0)
    elif arch == "alexnet_mini":
        # conv1's stride sets the CPU budget: 7x7 stride 2 trains ~7x faster than 5x5 stride 1
        # at 64 px (SPEC §14 calibration); groups of 2 need even channel counts.
        channels = [max(2, 2 * round(c * width / 2)) for c in channels]
        first = (7, 2, 3)
    else:
        raise ValueError(f"unknown arch {arch!r}: expected 'caffenet' or 'alexnet_mini'")
    return [
        (channels[0], *first, 1),
        (channels[1], 5, 1, 2, 2),
        (channels[2], 3, 1, 1, 1),
        (channels[3], 3, 1, 1, 2),
        (channels[4], 3, 1, 1, 2),
    ]


def pool_side(side):
    """Output side of Caffe's unpadded 3x3 / stride 2 max pooling, which rounds up (ceil mode)."""
    return math.ceil((side - 3) / 2) + 1


def pool5_side(arch, input_size, width=1.0):
    """Spatial side of pool5 for a square input of `input_size` pixels."""
    (_, k, s, p, _), *_ = conv_spec(arch, width)
    side = (input_size + 2 * p - k) // s + 1
    for _ in range(3):  # pool1, pool2 (conv2..conv5 keep the size), pool5
        side = pool_side(side)
    return side


class AlexNet(nn.Module):
    """AlexNet / CaffeNet with named layers conv1..conv5, fc6..fc8 (thesis §1.1, SPEC §5).

    `frozen_prefix` counts the modules of `SEQUENCE` that run without autograd (see
    `set_trainable`); 0 means the whole network is trainable.
    """

    def __init__(self, arch, num_classes, input_size, width=1.0, fc_width=4096):
        super().__init__()
        self.arch, self.input_size = arch, input_size
        self.frozen_prefix = 0
        in_channels = 3
        for i, (out, k, s, p, g) in enumerate(conv_spec(arch, width), start=1):
            setattr(self, f"conv{i}", nn.Conv2d(in_channels, out, k, s, p, groups=g))
            setattr(self, f"relu{i}", nn.ReLU())
            in_channels = out
        for name in ("pool1", "pool2", "pool5"):
            setattr(self, name, nn.MaxPool2d(3, 2, ceil_mode=True))
        for name in ("norm1", "norm2"):
            # Caffe's across-channel LRN divides alpha by the size, and so does PyTorch's.
            setattr(self, name, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0))
        self.flatten = nn.Flatten()
        side = pool5_side(arch, input_size, width)
        self.fc6 = nn.Linear(in_channels * side * side, fc_width)
        self.fc7 = nn.Linear(fc_width, fc_width)
        self.fc8 = nn.Linear(fc_width, num_classes)
        for name in ("relu6", "relu7"):
            setattr(self, name, nn.ReLU())
        for name in ("drop6", "drop7"):
            setattr(self, name, nn.Dropout(0.5))

    def run(self, x, names, keep=None):
        """Apply the modules `names` in order; outputs of modules in `keep` go into `keep`."""
        for name in names:
            x = getattr(self, name)(x)
            if keep is not None and name in keep:
                keep[name] = x
        return x

    def walk(self, x, stop="fc8", keep=None):
        """Run from the input up to module `stop`, the frozen prefix without autograd."""
        end = SEQUENCE.index(stop) + 1
        split = min(self.frozen_prefix, end)
        with torch.no_grad():
            x = self.run(x, SEQUENCE[:split], keep)
        return self.run(x, SEQUENCE[split:end], keep)

    def forward(self, x):
        return self.walk(x)


def init_caffe(model, generator=None, match_fan_in=False):
    """Caffe's Gaussian init: std 0.01 (fc6, fc7: 0.005); bias 0 or 1 (SPEC §5).

    match_fan_in multiplies each std by sqrt(CaffeNet fan-in / this layer's fan-in), so that a
    narrower network has CaffeNet's per-layer gain at initialisation. Without it, the constant
    bias of 1 drowns the input signal of a width-0.25 network (its logits vary ~200x less
    across images than CaffeNet's): on the 100-class demo world (batch 128, lr 0.01) the loss
    stayed at ln(100) for 600 iterations, while the matched init reached 32% validation top-1
    at 600 and 57% at 1200.
    """
    for name in LAYERS:
        layer = getattr(model, name)
        std = INIT_STD.get(name, 0.01)
        if match_fan_in:
            std *= math.sqrt(CAFFENET_FAN_IN[name] / layer.weight[0].numel())
        nn.init.normal_(layer.weight, 0.0, std, generator=generator)
        nn.init.constant_(layer.bias, 0.0 if name in ZERO_BIAS else 1.0)
    return model


def caffenet(num_classes=1000, input_size=227, generator=None):
    """The BVLC reference CaffeNet used by the thesis (§1.1; SPEC §5): 227 px -> pool5 6x6x256."""
    return init_caffe(AlexNet("caffenet", num_classes, input_size), generator)


def alexnet_mini(num_classes, input_size=64, width=0.25, generator=None):
    """CaffeNet's layers with channels scaled by `width` and conv1 7x7 / 2, for CPU demos (SPEC §5).

    At 64 px pool5 keeps a 4x4 map, so the spatial ablations of thesis §5 stay meaningful.
    Caffe's init with the stds matched to CaffeNet's fan-ins (see `init_caffe`).
    """
    fc_width = max(2, round(4096 * width))
    model = AlexNet("alexnet_mini", num_classes, input_size, width, fc_width)
    return init_caffe(model, generator, match_fan_in=True)


def build_model(arch, num_classes, input_size, width=1.0, seed=None):
    """The network named by the config's `model` section; `seed` fixes the initial weights."""
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    if arch == "caffenet":
        return caffenet(num_classes, input_size, generator)
    if arch == "alexnet_mini":
        return alexnet_mini(num_classes, input_size, width, generator)
    raise ValueError(f"unknown arch {arch!r}: expected 'caffenet' or 'alexnet_mini'")


def preprocess(images, pixel_mean):
    """uint8 (N, 3, H, W) RGB -> float32 with the per-channel mean subtracted, no scaling.

    Caffe's convention: values stay in pixel units (about -128..128), which is what the
    std-0.01 Gaussian init of CaffeNet was tuned for.
    """
    mean = torch.as_tensor(pixel_mean, dtype=torch.float32, device=images.device)
    return images.float() - mean.view(1, 3, 1, 1)


def extract_taps(model, x, layers=TAPS):
    """Activations of the thesis' layers (§1.1) as {name: (N, C, H, W)}; fc taps are (N, C, 1, 1).

    Taps are post-ReLU, after pooling for pool1/2/5, before LRN and before dropout. The pass
    stops at the last requested layer. Train/eval mode and grad mode are the caller's.
    """
    unknown = set(layers) - set(TAPS)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}: expected some of {TAPS}")
    keep = {TAP_MODULE[name]: None for name in layers}
    stop = max(keep, key=SEQUENCE.index)
    model.walk(x, stop=stop, keep=keep)
    return {name: _as_map(keep[TAP_MODULE[name]]) for name in layers}


def _as_map(t):
    return t.reshape(*t.shape, 1, 1) if t.dim() == 2 else t


def fc_from_pool5(model, pool5):
    """fc6 and fc7 taps computed from cached pool5, as R-CNN does (dropout off); (N, C, 1, 1)."""
    keep = {"relu6": None, "relu7": None}
    names = ("flatten", "fc6", "relu6", "fc7", "relu7")
    model.run(pool5, names, keep)
    return {"fc6": _as_map(keep["relu6"]), "fc7": _as_map(keep["relu7"])}


def param_groups(model, base_lr, weight_decay, head_lr_mult=1.0, head=HEAD):
    """SGD parameter groups with Caffe's multipliers (SPEC §5, §7).

    Weights: lr x1 with weight decay; biases: lr x2 and no decay; layers in `head` get
    `head_lr_mult` on top. Parameters with requires_grad False are left out, so neither
    weight decay nor momentum can move them.
    """
    groups = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer, kind = name.split(".")
        is_bias = kind == "bias"
        mult = (2.0 if is_bias else 1.0) * (head_lr_mult if layer in head else 1.0)
        key = (layer in head, is_bias)
        group = groups.setdefault(key, {"params": [], "lr": base_lr * mult,
                                        "weight_decay": 0.0 if is_bias else weight_decay})
        group["params"].append(param)
    return [groups[key] for key in sorted(groups)]


def replace_head(model, num_classes, init_std, generator=None):
    """A new fc8 for `num_classes`, Gaussian(init_std) weights and zero bias (thesis §1.2)."""
    old = model.fc8
    model.fc8 = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    nn.init.normal_(model.fc8.weight, 0.0, init_std, generator=generator)
    nn.init.zeros_(model.fc8.bias)
    return model


def first_trainable(train):
    """Name of the lowest trained layer for train = 'all' | 'fc' | 'from:<layer>' (SPEC §7)."""
    if train == "all":
        return "conv1"
    if train == "fc":
        return "fc6"
    if train.startswith("from:") and train[5:] in LAYERS:
        return train[5:]
    raise ValueError(f"bad train value {train!r}: expected all, fc or from:<one of {LAYERS}>")


def set_trainable(model, train):
    """Freeze every layer below `first_trainable(train)` (thesis §2.3.1: FC-FT).

    Frozen layers get requires_grad False and run under torch.no_grad() inside forward, so
    backward never reaches them: FC-FT costs no convolution gradients at all. Their dropout
    and LRN keep running exactly as before.
    """
    first = first_trainable(train)
    model.frozen_prefix = SEQUENCE.index(first)
    frozen = set(LAYERS[:LAYERS.index(first)])
    for name in LAYERS:
        getattr(model, name).requires_grad_(name not in frozen)
    return model
