"""Tests of layerwise.models against hand-counted sizes and a brute-force Caffe forward pass."""

import math

import pytest
import torch
import torch.nn.functional as F

from layerwise.models import (CAFFENET_FAN_IN, LAYERS, TAPS, CrossChannelLRN, alexnet_mini,
                              build_model, caffenet, extract_taps,
                              fc_from_pool5, param_groups, pool5_side, preprocess, replace_head,
                              set_trainable)

CONVS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def tiny(num_classes=5, input_size=48, seed=0):
    return build_model("alexnet_mini", num_classes, input_size, width=0.0625, seed=seed)


# --- brute-force Caffe reference ---------------------------------------------------------------

def caffe_lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe's across-channel LRN: x / (k + alpha/size * sum of squares over the window)^beta."""
    out = torch.empty_like(x)
    for c in range(x.shape[1]):
        lo, hi = max(0, c - size // 2), min(x.shape[1], c + size // 2 + 1)
        out[:, c] = x[:, c] / (k + alpha / size * (x[:, lo:hi] ** 2).sum(1)) ** beta
    return out


def caffe_pool(x):
    """Caffe's 3x3 / 2 max pooling: ceil((H - 3) / 2) + 1 outputs, windows clipped at the edge."""
    h, w = x.shape[-2:]
    oh, ow = -(-(h - 3) // 2) + 1, -(-(w - 3) // 2) + 1
    out = torch.empty(*x.shape[:2], oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = x[..., 2 * i:2 * i + 3, 2 * j:2 * j + 3].amax(dim=(-2, -1))
    return out


def reference_taps(model, x):
    """The thesis' layers computed op by op from the model's weights (eval mode: no dropout)."""
    def conv(name, t):
        layer = getattr(model, name)
        return F.relu(F.conv2d(t, layer.weight, layer.bias, layer.stride, layer.padding,
                               groups=layer.groups))
    taps = {"pool1": caffe_pool(conv("conv1", x))}
    taps["pool2"] = caffe_pool(conv("conv2", caffe_lrn(taps["pool1"])))
    taps["conv3"] = conv("conv3", caffe_lrn(taps["pool2"]))
    taps["conv4"] = conv("conv4", taps["conv3"])
    taps["pool5"] = caffe_pool(conv("conv5", taps["conv4"]))
    taps["fc6"] = F.relu(F.linear(taps["pool5"].flatten(1), model.fc6.weight, model.fc6.bias))
    taps["fc7"] = F.relu(F.linear(taps["fc6"], model.fc7.weight, model.fc7.bias))
    return taps


# --- architectures -----------------------------------------------------------------------------

def test_caffenet_shapes_and_parameter_count():
    model = caffenet(1000, generator=torch.Generator().manual_seed(0)).eval()
    assert sum(p.numel() for p in model.parameters()) == 60_965_224
    with torch.no_grad():
        x = torch.randn(1, 3, 227, 227) * 50
        taps = extract_taps(model, x)
        logits = model(x)
    assert {k: tuple(v.shape[1:]) for k, v in taps.items()} == {
        "pool1": (96, 27, 27), "pool2": (256, 13, 13), "conv3": (384, 13, 13),
        "conv4": (384, 13, 13), "pool5": (256, 6, 6), "fc6": (4096, 1, 1), "fc7": (4096, 1, 1)}
    assert logits.shape == (1, 1000)
    assert [model.conv2.groups, model.conv3.groups, model.conv4.groups, model.conv5.groups] \
        == [2, 1, 2, 2]
    assert (model.conv1.kernel_size, model.conv1.stride) == ((11, 11), (4, 4))


def test_caffe_init_rules():
    model = caffenet(1000, generator=torch.Generator().manual_seed(0))
    for name in LAYERS:
        bias = getattr(model, name).bias
        expected = 0.0 if name in ("conv1", "conv3", "fc8") else 1.0
        assert torch.all(bias == expected), name
    for name, std in [("conv2", 0.01), ("conv4", 0.01), ("fc6", 0.005), ("fc7", 0.005),
                      ("fc8", 0.01)]:
        weight = getattr(model, name).weight
        assert weight.std().item() == pytest.approx(std, rel=0.02), name
        assert abs(weight.mean().item()) < std / 50, name


def test_caffenet_fan_ins_are_the_reference():
    model = caffenet(10)
    for name in LAYERS:
        assert getattr(model, name).weight[0].numel() == CAFFENET_FAN_IN[name], name


def test_alexnet_mini_init_matches_caffenet_gain():
    """Each std is Caffe's std times sqrt(CaffeNet fan-in / mini fan-in); biases as in Caffe."""
    model = alexnet_mini(10, 64, 0.25, torch.Generator().manual_seed(0))
    for name in LAYERS:
        layer = getattr(model, name)
        caffe_std = 0.005 if name in ("fc6", "fc7") else 0.01
        want = caffe_std * math.sqrt(CAFFENET_FAN_IN[name] / layer.weight[0].numel())
        assert layer.weight.std().item() == pytest.approx(want, rel=0.05), name
        assert torch.all(layer.bias == (0.0 if name in ("conv1", "conv3", "fc8") else 1.0)), name
    assert model.conv3.weight.std().item() == pytest.approx(0.02, rel=0.05)  # 2304 / 576 = 4


def test_build_model_is_seeded():
    a, b, c = tiny(seed=3), tiny(seed=3), tiny(seed=4)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if name.endswith("weight"):
            assert not torch.equal(pa, pc), name
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("vgg", 10, 64)


def test_alexnet_mini_keeps_a_spatial_pool5_at_64px():
    model = alexnet_mini(20, input_size=64, width=0.25)
    assert (model.conv1.kernel_size, model.conv1.stride, model.conv1.padding) == \
        ((7, 7), (2, 2), (3, 3))
    assert [model.conv2.groups, model.conv4.groups, model.conv5.groups] == [2, 2, 2]
    assert [getattr(model, c).out_channels for c in CONVS] == [24, 64, 96, 96, 64]
    assert model.fc6.out_features == model.fc7.out_features == 1024
    with torch.no_grad():
        pool5 = extract_taps(model, torch.zeros(2, 3, 64, 64), ["pool5"])["pool5"]
    assert pool5.shape[-1] >= 3 and pool5.shape[-2] >= 3


@pytest.mark.parametrize("size", [32, 47, 48, 64, 71])
def test_pool5_side_matches_the_forward_pass(size):
    model = tiny(input_size=size)
    with torch.no_grad():
        out = extract_taps(model, torch.zeros(1, 3, size, size), ["pool5"])["pool5"]
    assert out.shape[-2:] == (pool5_side("alexnet_mini", size, 0.0625),) * 2


def test_caffenet_pool5_side_formula():
    assert pool5_side("caffenet", 227) == 6


def test_lrn_matches_caffe():
    x = torch.rand(2, 12, 5, 5) * 200  # pixel-scale activations make the LRN term matter
    model = tiny()
    assert torch.allclose(model.norm1(x), caffe_lrn(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(x, caffe_lrn(x), rtol=1e-3)


@pytest.mark.parametrize("channels", [1, 3, 12])
def test_lrn_values_and_gradients_equal_torchs(channels):
    x = (torch.rand(2, channels, 4, 3, dtype=torch.float64) * 200).requires_grad_()
    ours = CrossChannelLRN(5, alpha=1e-4, beta=0.75, k=1.0)
    theirs = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    weights = torch.rand(2, channels, 4, 3, dtype=torch.float64)
    (got,) = torch.autograd.grad((ours(x) * weights).sum(), x)
    (want,) = torch.autograd.grad((theirs(x) * weights).sum(), x)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(got, want)


# --- taps --------------------------------------------------------------------------------------

def test_taps_match_a_brute_force_caffe_forward():
    torch.manual_seed(0)
    model = tiny().eval()
    x = preprocess(torch.randint(0, 256, (3, 3, 48, 48), dtype=torch.uint8), [120, 115, 100])
    with torch.no_grad():
        taps = extract_taps(model, x)
        want = reference_taps(model, x)
    for name in TAPS:
        got = taps[name].flatten(1) if name.startswith("fc") else taps[name]
        assert got.shape == want[name].shape, name
        assert torch.allclose(got, want[name], rtol=1e-4, atol=1e-5), name
        assert torch.all(taps[name] >= 0), name  # post-ReLU
    assert taps["fc6"].shape[-2:] == (1, 1)


def test_taps_are_before_dropout():
    """In train mode dropout follows fc6 and fc7, so every tap up to fc6 equals eval mode, while
    fc7 (computed from the dropped-out fc6) differs."""
    torch.manual_seed(0)
    model = tiny()
    x = torch.randn(4, 3, 48, 48) * 50
    with torch.no_grad():
        train_taps = extract_taps(model.train(), x)
        eval_taps = extract_taps(model.eval(), x)
    for name in ("pool1", "pool2", "conv3", "conv4", "pool5", "fc6"):
        assert torch.equal(train_taps[name], eval_taps[name]), name
    assert not torch.equal(train_taps["fc7"], eval_taps["fc7"])


def test_extract_taps_stops_at_the_last_requested_layer():
    model = tiny()
    calls = []
    model.conv2.register_forward_hook(lambda *args: calls.append("conv2"))
    with torch.no_grad():
        taps = extract_taps(model, torch.randn(1, 3, 48, 48), ["pool1"])
    assert list(taps) == ["pool1"] and calls == []
    with pytest.raises(ValueError, match="unknown layers"):
        extract_taps(model, torch.randn(1, 3, 48, 48), ["relu5"])


def test_fc_from_pool5_equals_the_full_forward():
    torch.manual_seed(1)
    model = tiny().eval()
    x = torch.randn(3, 3, 48, 48) * 50
    with torch.no_grad():
        taps = extract_taps(model, x)
        fc = fc_from_pool5(model, taps["pool5"])
    assert torch.equal(fc["fc6"], taps["fc6"])
    assert torch.equal(fc["fc7"], taps["fc7"])


def test_fc_from_pool5_ignores_train_mode():
    torch.manual_seed(1)
    model = tiny().eval()
    pool5 = torch.rand(2, 16, 3, 3)  # tiny(): 16 channels, 3x3 at 48 px
    with torch.no_grad():
        want = fc_from_pool5(model, pool5)
        got = fc_from_pool5(model.train(), pool5)
    assert torch.equal(want["fc7"], got["fc7"])


# --- parameter groups, heads, freezing ---------------------------------------------------------

def test_param_groups_follow_caffe():
    model = set_trainable(tiny(), "from:conv3")
    groups = param_groups(model, base_lr=0.01, weight_decay=5e-4, head_lr_mult=10)
    where = {id(p): g for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(where)  # each param once
    for name, param in model.named_parameters():
        layer, kind = name.split(".")
        if layer in ("conv1", "conv2"):
            assert id(param) not in where, name
            continue
        group = where[id(param)]
        lr = 0.01 * (2 if kind == "bias" else 1) * (10 if layer == "fc8" else 1)
        assert group["lr"] == pytest.approx(lr), name
        assert group["weight_decay"] == (0.0 if kind == "bias" else 5e-4), name


def test_replace_head():
    model = tiny(num_classes=5)
    before = model.fc7.weight.clone()
    replace_head(model, 21, 0.01, torch.Generator().manual_seed(0))
    again = replace_head(tiny(num_classes=5), 21, 0.01, torch.Generator().manual_seed(0))
    assert model.fc8.weight.shape == (21, model.fc7.out_features)
    assert torch.all(model.fc8.bias == 0)
    assert torch.equal(model.fc8.weight, again.fc8.weight)
    assert model.fc8.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert torch.equal(model.fc7.weight, before)
    assert model(torch.randn(2, 3, 48, 48)).shape == (2, 21)


def sgd_steps(model, steps=3, seed=0):
    torch.manual_seed(seed)
    optimizer = torch.optim.SGD(param_groups(model, 0.01, 5e-4, 10), lr=0.01, momentum=0.9)
    x, y = torch.randn(8, 3, 48, 48) * 50, torch.randint(0, 5, (8,))
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("train, first", [("all", "conv1"), ("fc", "fc6"),
                                          ("from:conv4", "conv4"), ("from:fc8", "fc8")])
def test_set_trainable_freezes_bit_for_bit(train, first):
    model = set_trainable(tiny(), train)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sgd_steps(model)
    frozen = LAYERS[:LAYERS.index(first)]
    for name, value in model.state_dict().items():
        layer = name.split(".")[0]
        if layer in frozen:
            assert torch.equal(value, before[name]), name
            assert not getattr(model, layer).weight.requires_grad
        elif name.endswith("weight"):  # a bias of 1.0 can absorb a tiny float32 update
            assert not torch.equal(value, before[name]), name


def conv_nodes(tensor):
    """Names of the autograd nodes reachable from `tensor` that are convolutions."""
    seen, stack, found = set(), [tensor.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if "Convolution" in type(node).__name__:
            found.append(type(node).__name__)
        stack.extend(fn for fn, _ in node.next_functions)
    return found


@pytest.mark.parametrize("train, convs", [("all", 5), ("from:conv4", 2), ("fc", 0)])
def test_no_autograd_graph_reaches_frozen_layers(train, convs):
    model = set_trainable(tiny(), train)
    x = torch.randn(2, 3, 48, 48)
    assert len(conv_nodes(model(x))) == convs
    taps = extract_taps(model, x)
    if train == "fc":
        assert taps["pool5"].grad_fn is None and not taps["pool5"].requires_grad
        assert taps["fc6"].grad_fn is not None


def test_frozen_dropout_behaves_as_before():
    """Freezing fc6 (train='from:fc7') must not switch off its dropout."""
    x = torch.randn(4, 3, 48, 48) * 50
    outputs = []
    for train in ("all", "from:fc7", "from:fc8"):
        model = set_trainable(tiny(), train).train()
        torch.manual_seed(5)
        outputs.append(model(x).detach())
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[0], outputs[2])


def test_set_trainable_rejects_bad_values():
    for bad in ("none", "from:pool5", "from:", "FC"):
        with pytest.raises(ValueError, match="bad train value"):
            set_trainable(tiny(), bad)


def test_preprocess_subtracts_the_mean_in_pixel_units():
    images = torch.tensor([[[[0, 255]], [[10, 20]], [[100, 100]]]], dtype=torch.uint8)
    out = preprocess(images, [5, 10, 100])
    assert out.dtype == torch.float32
    assert out.tolist() == [[[[-5.0, 250.0]], [[0.0, 10.0]], [[0.0, 0.0]]]]
