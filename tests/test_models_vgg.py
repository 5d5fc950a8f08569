"""VGG-16 / vgg_mini, spatial pyramid pooling and the fine-tuning crop switch (seeds 004, 000)."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from layerwise import training
from layerwise.models import (TAPS, SpatialPyramidPool, build_model, extract_taps, fc_from_pool5,
                              param_groups, set_trainable)

VGG16_TAPS = {"pool1": (64, 112, 112), "pool2": (128, 56, 56), "conv3": (256, 56, 56),
              "conv4": (512, 28, 28), "pool5": (512, 7, 7), "fc6": (4096, 1, 1),
              "fc7": (4096, 1, 1)}
# width 0.25 at 64 px: blocks of 16, 32, 64, 128, 128 channels; sides 32, 16, 8, 4, 2.
VGG_MINI_TAPS = {"pool1": (16, 32, 32), "pool2": (32, 16, 16), "conv3": (64, 16, 16),
                 "conv4": (128, 8, 8), "pool5": (128, 2, 2), "fc6": (1024, 1, 1),
                 "fc7": (1024, 1, 1)}


def tiny_vgg(spp=False, size=32, num_classes=5, seed=0):
    return build_model("vgg_mini", num_classes, size, width=0.0625, seed=seed, spp=spp)


def test_vgg16_is_torchvisions_configuration_d():
    """Same convs, pools and linear layers in the same order as torchvision's vgg16 (at 224 px
    its adaptive 7x7 average pool is the identity, which ours leaves out)."""
    with torch.device("meta"):
        ours = build_model("vgg16", 1000, 224)
        theirs = torchvision.models.vgg16(weights=None)
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.Linear)
    ours_layers = [repr(getattr(ours, n)) for n in ours.sequence
                   if isinstance(getattr(ours, n), kinds)]
    their_layers = [repr(m) for m in [*theirs.features, *theirs.classifier]
                    if isinstance(m, kinds)]
    assert ours_layers == their_layers
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


def test_vgg16_tap_shapes_at_224():
    with torch.device("meta"):
        model = build_model("vgg16", 1000, 224)
        taps = extract_taps(model, torch.empty(2, 3, 224, 224))
    assert {k: tuple(v.shape) for k, v in taps.items()} == {
        k: (2, *shape) for k, shape in VGG16_TAPS.items()}


def test_vgg_mini_tap_shapes_and_modules():
    model = build_model("vgg_mini", 7, 64, width=0.25, seed=0).eval()
    seen = {}
    for name in ("pool1", "pool2", "relu3_3", "relu4_3", "pool5", "relu6", "relu7"):
        getattr(model, name).register_forward_hook(
            lambda mod, inp, out, name=name: seen.__setitem__(name, out))
    with torch.no_grad():
        taps = extract_taps(model, torch.randn(1, 3, 64, 64) * 50)
    assert {k: tuple(v.shape[1:]) for k, v in taps.items()} == VGG_MINI_TAPS
    # conv3 / conv4 are the ReLUs of the last conv of blocks 3 and 4 (thesis §1.1 taps).
    for tap, module in zip(TAPS, seen):
        assert torch.equal(taps[tap].flatten(1), seen[module].flatten(1)), tap


def test_vgg_init_is_seeded_and_follows_torchvision():
    a, b, c = tiny_vgg(seed=1), tiny_vgg(seed=1), tiny_vgg(seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.conv1_1.weight, c.conv1_1.weight)
    model = build_model("vgg_mini", 5, 64, width=0.5, seed=0)
    conv = model.conv4_2  # 256 x 256 x 3 x 3: Kaiming fan-out std sqrt(2 / (256 * 9))
    assert conv.weight.std().item() == pytest.approx((2 / (256 * 9)) ** 0.5, rel=0.05)
    assert model.fc6.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(torch.all(getattr(model, n).bias == 0) for n in model.layers)


def test_spp_output_size_is_independent_of_input_size():
    spp = SpatialPyramidPool()
    for side in (1, 2, 3, 4, 5, 7, 8, 13):
        assert spp(torch.randn(2, 6, side, side + 1)).shape == (2, 6 * 21)
    for arch, sizes in (("vgg_mini", (32, 48)), ("alexnet_mini", (32, 56))):
        model = build_model(arch, 4, 32, width=0.0625, seed=0, spp=True).eval()
        for size in sizes:
            with torch.no_grad():
                assert model(torch.randn(2, 3, size, size)).shape == (2, 4)


def test_spp_matches_brute_force_bins():
    x = torch.randn(2, 3, 8, 8)
    want = []
    for n in (4, 2, 1):
        step = 8 // n
        for c_blocks in [[[x[:, c, i * step:(i + 1) * step, j * step:(j + 1) * step].amax((1, 2))
                           for j in range(n)] for i in range(n)] for c in range(3)]:
            want += [v for row in c_blocks for v in row]
    assert torch.equal(SpatialPyramidPool()(x), torch.stack(want, dim=1))


def test_spp_sits_between_pool5_and_fc6():
    plain, spp = tiny_vgg(), tiny_vgg(spp=True)
    assert plain.fc6.in_features == 32  # 32 channels x 1 x 1 at 32 px
    assert spp.fc6.in_features == 32 * 21
    assert spp.sequence[spp.sequence.index("pool5") + 1] == "spp"
    assert "spp" not in plain.sequence


@pytest.mark.parametrize("arch,spp", [("vgg_mini", False), ("vgg_mini", True),
                                      ("alexnet_mini", True)])
def test_fc_from_pool5_equals_the_full_forward(arch, spp):
    model = build_model(arch, 5, 32, width=0.0625, seed=3, spp=spp).eval()
    with torch.no_grad():
        taps = extract_taps(model, torch.randn(2, 3, 32, 32) * 50)
        fc = fc_from_pool5(model.train(), taps["pool5"])  # dropout must stay off
    for name in ("fc6", "fc7"):
        torch.testing.assert_close(fc[name], taps[name], rtol=0, atol=0)


@pytest.mark.parametrize("train,first", [("all", "conv1_1"), ("fc", "fc6"),
                                         ("from:conv3", "conv3_1"), ("from:conv4_2", "conv4_2")])
def test_set_trainable_on_vgg(train, first):
    model = set_trainable(tiny_vgg(), train)
    trained = [n for n in model.layers if getattr(model, n).weight.requires_grad]
    assert trained == list(model.layers[model.layers.index(first):])
    groups = param_groups(model, 0.01, 5e-4, head_lr_mult=10)
    assert sum(len(g["params"]) for g in groups) == 2 * len(trained)
    assert {g["lr"] for g in groups} == {0.01, 0.02, 0.1, 0.2}


def test_set_trainable_rejects_unknown_vgg_layers():
    with pytest.raises(ValueError, match="bad train value"):
        set_trainable(tiny_vgg(), "from:conv9")


def test_fc_finetuning_of_vgg_keeps_conv_weights():
    images = torch.randint(0, 256, (12, 3, 36, 36), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    labels = torch.arange(12) % 3
    source = training.init_checkpoint("vgg_mini", 3, 32, 0.0625, seed=0, spp=True)
    assert source["arch"]["spp"] is True
    sampler = training.classification_sampler(images, labels, 32)
    tuned, _ = training.finetune(source, sampler, 2, train="fc", lr=0.01, lr_step=10,
                                 head_lr_mult=10, head_init_std=0.01, num_classes=4, mirror=True,
                                 batch_size=4, seed=0, pixel_mean=[118, 117, 112])
    for name, value in source["model"].items():
        if name.startswith("conv"):
            assert torch.equal(tuned["model"][name], value), name
    assert not torch.equal(tuned["model"]["fc6.weight"], source["model"]["fc6.weight"])
    model = training.model_from_checkpoint(tuned)
    assert "spp" in model.sequence and model.fc8.out_features == 4


def test_checkpoints_without_spp_do_not_record_it():
    assert "spp" not in training.init_checkpoint("vgg_mini", 3, 32, 0.0625, seed=0)["arch"]


def test_detection_crop_takes_seeded_random_windows_of_the_warped_patch():
    big = torch.randint(0, 256, (6, 3, 12, 12), dtype=torch.uint8,
                        generator=torch.Generator().manual_seed(1))

    def warp(image_index, boxes):
        return big[torch.as_tensor(image_index)]

    labels = np.array([1, 0, 2, 0, 0, 3])
    sampler = training.detection_sampler(np.arange(6), np.zeros((6, 4)), labels, warp, 2,
                                         crop_size=8)
    offsets = set()
    for it in range(6):
        patches, lab = sampler(it, 4, seed=5)
        again, _ = sampler(it, 4, seed=5)
        assert patches.shape == (4, 3, 8, 8) and torch.equal(patches, again)
        for patch, label in zip(patches, lab.tolist()):
            # Brute force: the patch is an 8x8 window of one warped window of its label.
            hits = [(y, x) for i in np.flatnonzero(labels == label) for y in range(5)
                    for x in range(5) if torch.equal(big[i, :, y:y + 8, x:x + 8], patch)]
            assert hits
            offsets.update(hits)
    assert len(offsets) > 3  # the crops move
    plain = training.detection_sampler(np.arange(6), np.zeros((6, 4)), labels, warp, 2)
    assert plain(0, 4, seed=5)[0].shape == (4, 3, 12, 12)
