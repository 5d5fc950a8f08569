"""The networks of the thesis: CaffeNet and a narrow AlexNet with the same layer names, and
VGG-16 (seed 000, seed 004) with a narrow variant, mapped onto the same taps.

Thesis §1.1: layers 1, 2 are conv -> relu -> pool -> norm, layers 3, 4 conv -> relu, layer 5
conv -> relu -> pool, layers 6, 7 fully connected (relu, dropout), fc8 the classifier. A layer
named without a sub-layer means the pooling output for 1, 2, 5 and the relu output for 3, 4, 6, 7;
those are the taps (`TAPS`), read before LRN and before dropout.

Every module has a name, and one ordered list (`SEQUENCE`) says how they are chained, so the
forward pass, the taps and the frozen prefix of fine-tuning all walk the same list. Each network
class carries its own `sequence`, `layers` (the modules with weights) and `tap_module`, and the
functions below read them from the model, so every analysis runs on every architecture.

An optional spatial pyramid pooling layer (`SpatialPyramidPool`, seed 004) sits between pool5
and fc6 of any architecture: the pool5 tap stays the network's own pooled map.
"""

import math

import torch
import torch.nn.functional as F
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
ARCHS = ("caffenet", "alexnet_mini", "vgg16", "vgg_mini")
# SPP-net's pyramid (seed 004): 4x4, 2x2 and 1x1 bins, 21 per channel.
SPP_LEVELS = (4, 2, 1)
# VGG-16, configuration D (torchvision's cfgs["D"]): output channels of the 3x3 convs per block.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))

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
        raise ValueError(f"unknown arch {arch!r}: expected one of {ARCHS}")
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


class SpatialPyramidPool(nn.Module):
    """Spatial pyramid pooling (He et al. 2014, seed 004): max pools over 4x4, 2x2 and 1x1 grids
    of bins, flattened and concatenated: (N, C, H, W) -> (N, 21 C) whatever H and W are.

    Bins are torch's adaptive ones (rows floor(i H / n) .. ceil((i + 1) H / n)); SPP-net's
    windows are the same whenever n divides H and W.
    """

    def __init__(self, levels=SPP_LEVELS):
        super().__init__()
        self.levels = tuple(levels)

    def bins(self):
        return sum(n * n for n in self.levels)

    def forward(self, x):
        return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.levels], dim=1)


class CrossChannelLRN(nn.Module):
    """Caffe's across-channel LRN (thesis §1.1): x / (k + alpha / n * sum of x^2 over the n
    channels centred on each one)^beta, zero-padded at the ends, as `nn.LocalResponseNorm`.

    The window sum adds n shifted slices instead of running avg_pool3d over a 5-D copy:
    equal to `nn.LocalResponseNorm` to float rounding, and a training step of alexnet_mini
    takes about 10% less time on a CPU (LRN was a quarter of it).
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        channels = x.shape[1]
        squares = F.pad(x * x, (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))
        window = squares[:, :channels]
        for shift in range(1, self.size):
            window = window + squares[:, shift:shift + channels]
        return x / (window * (self.alpha / self.size) + self.k) ** self.beta

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def with_spp(sequence):
    """`sequence` with the pyramid pooling module between pool5 and the flattening."""
    i = sequence.index("pool5") + 1
    return sequence[:i] + ("spp",) + sequence[i:]


class TappedNet(nn.Module):
    """A network whose modules are chained by the name list `self.sequence`.

    `frozen_prefix` counts the modules of the sequence that run without autograd (see
    `set_trainable`); 0 means the whole network is trainable.
    """

    sequence = SEQUENCE
    layers = LAYERS
    tap_module = TAP_MODULE

    def fc6_inputs(self, channels, side, spp):
        """fc6's input size for pool5 maps of `channels` x side x side; with `spp`, first put
        a `SpatialPyramidPool` named spp between pool5 and fc6."""
        if not spp:
            return channels * side * side
        self.spp = SpatialPyramidPool()
        self.sequence = with_spp(self.sequence)
        return channels * self.spp.bins()

    def run(self, x, names, keep=None):
        """Apply the modules `names` in order; outputs of modules in `keep` go into `keep`."""
        for name in names:
            x = getattr(self, name)(x)
            if keep is not None and name in keep:
                keep[name] = x
        return x

    def walk(self, x, stop="fc8", keep=None):
        """Run from the input up to module `stop`, the frozen prefix without autograd."""
        end = self.sequence.index(stop) + 1
        split = min(self.frozen_prefix, end)
        with torch.no_grad():
            x = self.run(x, self.sequence[:split], keep)
        return self.run(x, self.sequence[split:end], keep)

    def forward(self, x):
        return self.walk(x)


class AlexNet(TappedNet):
    """AlexNet / CaffeNet with named layers conv1..conv5, fc6..fc8 (thesis §1.1, SPEC §5);
    `spp` puts spatial pyramid pooling between pool5 and fc6 (seed 004)."""

    def __init__(self, arch, num_classes, input_size, width=1.0, fc_width=4096, spp=False):
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
            setattr(self, name, CrossChannelLRN(5, alpha=1e-4, beta=0.75, k=1.0))
        self.flatten = nn.Flatten()
        side = pool5_side(arch, input_size, width)
        fc6_in = self.fc6_inputs(in_channels, side, spp)
        _add_classifier(self, fc6_in, fc_width, num_classes)


def _add_classifier(model, fc6_in, fc_width, num_classes):
    """fc6, fc7 (ReLU, dropout 0.5) and fc8, as in AlexNet and VGG."""
    model.fc6 = nn.Linear(fc6_in, fc_width)
    model.fc7 = nn.Linear(fc_width, fc_width)
    model.fc8 = nn.Linear(fc_width, num_classes)
    for name in ("relu6", "relu7"):
        setattr(model, name, nn.ReLU())
    for name in ("drop6", "drop7"):
        setattr(model, name, nn.Dropout(0.5))


FC_SEQUENCE = SEQUENCE[SEQUENCE.index("flatten"):]


class VGG(TappedNet):
    """VGG-16 (Simonyan & Zisserman 2014, configuration D; seed 000 and seed 004) with flat
    layer names conv1_1 .. conv5_3, fc6 .. fc8 and the thesis' taps (§1.1): pool1, pool2, conv3
    = the ReLU of block 3's last conv, conv4 = block 4's, pool5, fc6, fc7.

    Channels are VGG16_BLOCKS scaled by `width` (vgg_mini). fc6 reads pool5 as it is (input
    side // 32), so at 224 px the network is torchvision's vgg16, whose adaptive 7x7 average
    pool is then the identity. `spp` puts spatial pyramid pooling before fc6.
    """

    def __init__(self, arch, num_classes, input_size, width=1.0, fc_width=4096, spp=False):
        super().__init__()
        if input_size < 32:
            raise ValueError(f"VGG needs an input of at least 32 px, got {input_size}")
        self.arch, self.input_size = arch, input_size
        self.frozen_prefix = 0
        sequence, in_channels = [], 3
        for block, convs in enumerate(VGG16_BLOCKS, start=1):
            for i, out in enumerate(convs, start=1):
                out = max(1, round(out * width))
                setattr(self, f"conv{block}_{i}", nn.Conv2d(in_channels, out, 3, padding=1))
                setattr(self, f"relu{block}_{i}", nn.ReLU())
                sequence += [f"conv{block}_{i}", f"relu{block}_{i}"]
                in_channels = out
            setattr(self, f"pool{block}", nn.MaxPool2d(2, 2))
            sequence.append(f"pool{block}")
        self.sequence = tuple(sequence) + FC_SEQUENCE
        self.layers = tuple(n for n in self.sequence if n.startswith(("conv", "fc")))
        self.tap_module = {**TAP_MODULE, "conv3": f"relu3_{len(VGG16_BLOCKS[2])}",
                           "conv4": f"relu4_{len(VGG16_BLOCKS[3])}"}
        self.flatten = nn.Flatten()
        fc6_in = self.fc6_inputs(in_channels, input_size // 32, spp)
        _add_classifier(self, fc6_in, fc_width, num_classes)


def init_vgg(model, generator=None):
    """torchvision's VGG initialisation, drawn from `generator`: convs Kaiming-normal (fan out,
    ReLU gain), linear layers Gaussian std 0.01, biases 0."""
    for name in model.layers:
        layer = getattr(model, name)
        if isinstance(layer, nn.Conv2d):
            fan_out = layer.weight[:, 0].numel()  # out_channels x kernel height x kernel width
            std = math.sqrt(2.0 / fan_out)
        else:
            std = 0.01
        nn.init.normal_(layer.weight, 0.0, std, generator=generator)
        nn.init.zeros_(layer.bias)
    return model


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


def caffenet(num_classes=1000, input_size=227, generator=None, spp=False):
    """The BVLC reference CaffeNet used by the thesis (§1.1; SPEC §5): 227 px -> pool5 6x6x256."""
    return init_caffe(AlexNet("caffenet", num_classes, input_size, spp=spp), generator)


def alexnet_mini(num_classes, input_size=64, width=0.25, generator=None, spp=False):
    """CaffeNet's layers with channels scaled by `width` and conv1 7x7 / 2, for CPU demos (SPEC §5).

    At 64 px pool5 keeps a 4x4 map, so the spatial ablations of thesis §5 stay meaningful.
    Caffe's init with the stds matched to CaffeNet's fan-ins (see `init_caffe`).
    """
    fc_width = max(2, round(4096 * width))
    model = AlexNet("alexnet_mini", num_classes, input_size, width, fc_width, spp)
    return init_caffe(model, generator, match_fan_in=True)


def vgg16(num_classes=1000, input_size=224, generator=None, spp=False):
    """VGG-16 (configuration D) as seed 000 uses it, torchvision's definition and init."""
    return init_vgg(VGG("vgg16", num_classes, input_size, spp=spp), generator)


def vgg_mini(num_classes, input_size=64, width=0.25, generator=None, spp=False):
    """VGG-16's layers with channels and fc widths scaled by `width`, for CPU demos; at 64 px
    pool5 is 2x2."""
    fc_width = max(2, round(4096 * width))
    return init_vgg(VGG("vgg_mini", num_classes, input_size, width, fc_width, spp), generator)


def build_model(arch, num_classes, input_size, width=1.0, seed=None, spp=False):
    """The network named by the config's `model` section; `seed` fixes the initial weights.
    `width` applies to the narrow archs only; `spp` adds pyramid pooling before fc6."""
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    if arch == "caffenet":
        return caffenet(num_classes, input_size, generator, spp)
    if arch == "alexnet_mini":
        return alexnet_mini(num_classes, input_size, width, generator, spp)
    if arch == "vgg16":
        return vgg16(num_classes, input_size, generator, spp)
    if arch == "vgg_mini":
        return vgg_mini(num_classes, input_size, width, generator, spp)
    raise ValueError(f"unknown arch {arch!r}: expected one of {ARCHS}")


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
    keep = {model.tap_module[name]: None for name in layers}
    stop = max(keep, key=model.sequence.index)
    model.walk(x, stop=stop, keep=keep)
    return {name: _as_map(keep[model.tap_module[name]]) for name in layers}


def _as_map(t):
    return t.reshape(*t.shape, 1, 1) if t.dim() == 2 else t


def fc_from_pool5(model, pool5):
    """fc6 and fc7 taps computed from cached pool5, as R-CNN does (dropout off); (N, C, 1, 1).
    With pyramid pooling, the cached pool5 goes through it first."""
    keep = {"relu6": None, "relu7": None}
    seq = model.sequence
    names = [n for n in seq[seq.index("pool5") + 1:seq.index("relu7") + 1]
             if not n.startswith("drop")]
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


def first_trainable(train, layers=LAYERS):
    """Name of the lowest trained layer for train = 'all' | 'fc' | 'from:<layer>' (SPEC §7), among
    a network's `layers`; for VGG, from:conv3 means block 3's first conv (conv3_1)."""
    if train == "all":
        return layers[0]
    if train == "fc":
        return "fc6"
    name = train[5:] if train.startswith("from:") else None
    if name in layers:
        return name
    if name and name.startswith("conv") and f"{name}_1" in layers:
        return f"{name}_1"
    raise ValueError(f"bad train value {train!r}: expected all, fc or from:<one of {layers}>")


def set_trainable(model, train):
    """Freeze every layer below `first_trainable(train)` (thesis §2.3.1: FC-FT).

    Frozen layers get requires_grad False and run under torch.no_grad() inside forward, so
    backward never reaches them: FC-FT costs no convolution gradients at all. Their dropout
    and LRN keep running exactly as before.
    """
    first = first_trainable(train, model.layers)
    model.frozen_prefix = model.sequence.index(first)
    frozen = set(model.layers[:model.layers.index(first)])
    for name in model.layers:
        getattr(model, name).requires_grad_(name not in frozen)
    return model
