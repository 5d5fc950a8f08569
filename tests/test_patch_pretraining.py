"""Tests of seed 000's patch pre-training: the switch, the heads, the losses and the metrics."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerwise.experiments import patch_pretraining as pp

MODEL = {"arch": "alexnet_mini", "input_size": 32, "width": 0.0625}
CFG = {"epochs": 2, "batch_size": 4, "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
       "mirror": True}
MEAN = [118, 117, 112]
K = 3


@pytest.fixture(scope="module")
def data():
    """Tiny PatchSet (10 patches), train and test image sets with VOC labels 1 / -1 / 0."""
    g = torch.Generator().manual_seed(0)
    images = lambda n: torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    patches, patch_labels = images(10), torch.arange(10) % K
    train_labels = np.array([[1, -1, -1], [-1, 1, 0], [1, 1, -1], [-1, -1, 1], [1, -1, 1],
                             [-1, 1, -1]])
    test_labels = np.array([[1, -1, -1], [-1, 1, 1], [0, -1, 1], [-1, -1, -1]])
    return (patches.numpy(), patch_labels.numpy(), images(6).numpy(), train_labels,
            images(4).numpy(), test_labels)


def test_phase_of_epoch_follows_algorithm_1():
    names = lambda switch: [pp.phase_of_epoch(e, switch, "patch", "image") for e in range(4)]
    assert names(0) == ["image"] * 4  # the baseline never sees a patch
    assert names(2) == ["patch", "patch", "image", "image"]
    assert names(4) == ["patch"] * 4


def recording_phase(name, images, targets, forward, loss, log):
    def recorded(logits, y):
        log.append((name, len(y)))
        return loss(logits, y)
    return pp.Phase(name, images, targets, forward, recorded)


@pytest.mark.parametrize("switch", [0, 1, 2])
def test_each_epoch_trains_its_loader_with_its_loss(switch):
    """Epochs before switch_epoch run the patch loader (7 samples, cross-entropy on the patch
    branch), the others the image loader (5 samples, BCE on the image branch)."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, K))
    log = []
    patch = recording_phase("patch", torch.zeros(7, 3, 8, 8, dtype=torch.uint8),
                            torch.zeros(7, dtype=torch.long), model, F.cross_entropy, log)
    image = recording_phase("image", torch.zeros(5, 3, 8, 8, dtype=torch.uint8),
                            torch.ones(5, K), model, F.binary_cross_entropy_with_logits, log)
    pp.train(patch, image, 2, switch, params=[model], batch_size=4, lr=0.1, momentum=0.9,
             weight_decay=0.0, mirror=False, seed=0, pixel_mean=MEAN, input_size=8)
    epoch = {"patch": [("patch", 4), ("patch", 3)], "image": [("image", 4), ("image", 1)]}
    expected = [step for e in range(2) for step in epoch["patch" if e < switch else "image"]]
    assert log == expected


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("switch, trained, idle", [(1, "head", "fc8"), (0, "fc8", "head")])
def test_an_epoch_moves_only_its_own_branch(data, switch, trained, idle):
    """A patch epoch trains the patch head and not fc8; an image epoch the reverse."""
    patches, patch_labels, train_images, train_labels, _, _ = data
    model, head = pp.networks(MODEL, K, seed=0)
    before = {"head": snapshot(head), "fc8": snapshot(model.fc8)}
    patch, image = pp.phases(model, head, patches, patch_labels, train_images,
                             pp.present(train_labels))
    pp.train(patch, image, 1, switch, params=[model, head], batch_size=4, lr=0.01,
             momentum=0.9, weight_decay=5e-4, mirror=True, seed=0, pixel_mean=MEAN,
             input_size=32)
    after = {"head": snapshot(head), "fc8": snapshot(model.fc8)}
    assert all(torch.equal(before[idle][k], after[idle][k]) for k in before[idle])
    assert not all(torch.equal(before[trained][k], after[trained][k]) for k in before[trained])


def test_present_counts_difficult_only_classes_as_present():
    assert pp.present([[1, -1, 0]]).tolist() == [[1.0, 0.0, 1.0]]


def test_positive_weights_are_negatives_over_positives():
    targets = torch.tensor([[1, 0], [0, 1], [0, 1], [0, 1.0]])
    assert pp.positive_weights(targets).tolist() == pytest.approx([3.0, 1 / 3])
    with pytest.raises(ValueError, match="bird"):
        pp.positive_weights(torch.tensor([[1.0, 0.0]]), ["cat", "bird"])


def test_summed_confusion_matches_counting():
    rng = np.random.default_rng(0)
    truth, pred = rng.random((30, 5)) < 0.3, rng.random((30, 5)) < 0.4
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for t, p in zip(truth.ravel(), pred.ravel()):
        counts[{(1, 1): "tp", (0, 1): "fp", (1, 0): "fn", (0, 0): "tn"}[int(t), int(p)]] += 1
    assert pp.summed_confusion(truth, pred) == counts


def test_precision_recall_by_hand():
    assert pp.precision_recall({"tp": 3, "fp": 1, "fn": 6, "tn": 10}) == (75.0, 100 / 3)
    precision, recall = pp.precision_recall({"tp": 0, "fp": 0, "fn": 2, "tn": 1})
    assert math.isnan(precision) and recall == 0.0


def test_run_is_deterministic_and_counts_every_test_label(data):
    rows = [pp.run(*data, model_cfg=MODEL, switch_epoch=1, cfg=CFG, seed=0, pixel_mean=MEAN,
                   threads=1) for _ in range(2)]
    for row in rows:
        row.pop("train_time_s")
    assert rows[0] == rows[1]
    row = rows[0]
    assert row["tp"] + row["fp"] + row["fn"] + row["tn"] == 4 * K
    assert row["tp"] + row["fn"] == 5  # positives of the test labels, the 0 included
    with pytest.raises(ValueError, match="switch_epoch 3"):
        pp.run(*data, model_cfg=MODEL, switch_epoch=3, cfg=CFG, seed=0, pixel_mean=MEAN)


def pretraining_checkpoint():
    """A stand-in pretraining snapshot: Caffe's init of a 5-class network from another seed."""
    from layerwise.training import init_checkpoint

    return init_checkpoint(**MODEL, num_classes=5, seed=7)


def test_pretrained_init_copies_the_trunk_and_draws_new_heads():
    source = pretraining_checkpoint()
    model, head = pp.networks(MODEL, K, seed=0, source=source, head_init_std=0.01)
    weights = model.state_dict()
    trunk = [k for k in source["model"] if not k.startswith("fc8.")]
    assert len(trunk) == 14  # conv1..conv5, fc6, fc7: weight and bias each
    for key in trunk:
        assert torch.equal(weights[key], source["model"][key]), key
    # Image head: K outputs, Gaussian of std 0.01, zero bias; the source's fc8 had 5 outputs.
    assert weights["fc8.weight"].shape == (K, source["model"]["fc8.weight"].shape[1])
    assert weights["fc8.weight"].std().item() == pytest.approx(0.01, rel=0.15)
    assert not weights["fc8.bias"].any()
    # Patch head: what a scratch run of the same seed draws, nothing taken from the source.
    _, scratch_head = pp.networks(MODEL, K, seed=0)
    fresh = scratch_head.state_dict()
    assert all(torch.equal(v, fresh[k]) for k, v in head.state_dict().items())
    # A scratch network of the same seed has a trunk of its own, so the copy above is no accident.
    scratch, _ = pp.networks(MODEL, K, seed=0)
    assert not torch.equal(scratch.state_dict()["conv1.weight"], source["model"]["conv1.weight"])


def test_pretrained_init_refuses_a_checkpoint_of_another_network():
    with pytest.raises(ValueError, match="model section"):
        pp.networks({**MODEL, "width": 0.125}, K, seed=0, source=pretraining_checkpoint())


def test_run_from_a_pretrained_trunk_is_deterministic(data):
    rows = [pp.run(*data, model_cfg=MODEL, switch_epoch=1, cfg=CFG, seed=0, pixel_mean=MEAN,
                   source=pretraining_checkpoint(), head_init_std=0.01, threads=1)
            for _ in range(2)]
    for row in rows:
        row.pop("train_time_s")
    assert rows[0] == rows[1]
