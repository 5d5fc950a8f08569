"""Tests of layerwise.training: bit-identical resumption, checkpoints, samplers, window labels."""

import pickle

import numpy as np
import pytest
import torch

from layerwise.models import LAYERS, preprocess
from layerwise.training import (batch_indices, build_windows, classification_sampler,
                                crop_batch, detection_sampler, evaluate_top1, finetune,
                                init_checkpoint, label_windows, load_checkpoint, mirror_batch,
                                model_from_checkpoint, pretrain_segment, save_checkpoint,
                                windows_warper)

MODEL = {"arch": "alexnet_mini", "input_size": 32, "width": 0.0625}
CFG = {"batch_size": 8, "lr": 0.01, "lr_steps": [3], "momentum": 0.9, "weight_decay": 5e-4,
       "crop": True, "mirror": True, "log_every": 2}
MEAN = [118, 117, 112]
CONVS = ("conv1", "conv2", "conv3", "conv4", "conv5")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 36, 36), dtype=torch.uint8, generator=g)
    return images, torch.randint(0, 4, (20,), generator=g)


def segment(data, checkpoint, start, stop, seed=0, **cfg):
    return pretrain_segment(checkpoint, *data, start, stop, cfg={**CFG, **cfg}, seed=seed,
                            pixel_mean=MEAN, model_cfg=MODEL, num_classes=4, threads=1)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def assert_same_checkpoint(a, b):
    assert a["iteration"] == b["iteration"]
    assert_same_state(a["model"], b["model"])
    for slot, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][slot]["momentum_buffer"])
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["scheduler"] == b["scheduler"]
    assert a["loss_window"] == b["loss_window"]


# --- checkpoints -------------------------------------------------------------------------------

def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path, data):
    checkpoint, _ = segment(data, None, 0, 3)
    path = tmp_path / "a dir with 'quotes' and spaces" / "iter_3.pt"
    save_checkpoint(checkpoint, path)
    assert [p.name for p in path.parent.iterdir()] == ["iter_3.pt"]  # no temp file left
    loaded = load_checkpoint(path)
    assert_same_checkpoint(checkpoint, loaded)
    assert loaded["arch"] == {**MODEL, "num_classes": 4}


class Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_checkpoint_with_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "extra": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"evil\.pt: refused.*GLOBAL print"):
        load_checkpoint(path)


def test_failed_save_leaves_nothing(tmp_path):
    path = tmp_path / "x.pt"
    with pytest.raises(Exception):
        save_checkpoint({"bad": lambda: 0}, path)
    assert list(tmp_path.iterdir()) == []


def test_init_checkpoint_is_seeded():
    a, b, c = (init_checkpoint(**MODEL, num_classes=4, seed=s) for s in (1, 1, 2))
    assert_same_state(a["model"], b["model"])
    assert not torch.equal(a["model"]["conv1.weight"], c["model"]["conv1.weight"])
    assert a["iteration"] == 0 and a["optimizer"] is None


# --- pretraining -------------------------------------------------------------------------------

def test_segments_are_bit_identical_to_one_run(tmp_path, data):
    whole, whole_rows = segment(data, None, 0, 6)
    first, rows_a = segment(data, None, 0, 3)  # 3 is odd: a log interval spans the boundary
    save_checkpoint(first, tmp_path / "iter_3.pt")
    second, rows_b = segment(data, load_checkpoint(tmp_path / "iter_3.pt"), 3, 6)
    assert_same_checkpoint(whole, second)
    assert whole_rows == rows_a + rows_b
    assert [r["iteration"] for r in whole_rows] == [2, 4, 6]


def test_resuming_twice_from_one_checkpoint_gives_the_same_bits(data):
    first, _ = segment(data, None, 0, 2)
    frozen = {k: v.clone() for k, v in first["model"].items()}
    momentum = {k: s["momentum_buffer"].clone() for k, s in first["optimizer"]["state"].items()}
    a, _ = segment(data, first, 2, 4)
    b, _ = segment(data, first, 2, 4)
    assert_same_checkpoint(a, b)
    assert_same_state(first["model"], frozen)  # training on did not write into the checkpoint
    for k, s in first["optimizer"]["state"].items():
        assert torch.equal(s["momentum_buffer"], momentum[k])


def test_training_depends_on_the_seed_and_moves_every_layer(data):
    a, _ = segment(data, None, 0, 2, seed=0)
    b, _ = segment(data, None, 0, 2, seed=1)
    assert not torch.equal(a["model"]["fc8.weight"], b["model"]["fc8.weight"])
    start = init_checkpoint(**MODEL, num_classes=4, seed=0)["model"]
    for layer in LAYERS:
        assert not torch.equal(a["model"][f"{layer}.weight"], start[f"{layer}.weight"]), layer


def test_learning_rate_steps_and_caffe_multipliers(data):
    """lr_steps [3]: as in Caffe's multistep policy, iteration 3 is the first at lr / 10. A
    checkpoint at iteration k holds the rates iteration k will use."""
    before, _ = segment(data, None, 0, 2)
    after, _ = segment(data, None, 0, 3)
    assert sorted({g["lr"] for g in before["optimizer"]["param_groups"]}) == \
        pytest.approx([0.01, 0.02])
    assert sorted({g["lr"] for g in after["optimizer"]["param_groups"]}) == \
        pytest.approx([0.001, 0.002])
    for group in after["optimizer"]["param_groups"]:  # biases: lr x2, no decay
        is_bias = group["lr"] == pytest.approx(0.002)
        assert group["weight_decay"] == (0.0 if is_bias else 5e-4)


def test_log_rows_are_interval_means(data):
    _, every = segment(data, None, 0, 6, log_every=1)
    _, thirds = segment(data, None, 0, 6, log_every=3)
    losses = [r["loss"] for r in every]
    assert [r["iteration"] for r in every] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in thirds] == pytest.approx([np.mean(losses[:3]), np.mean(losses[3:])])


def test_start_must_match_the_checkpoint(data):
    first, _ = segment(data, None, 0, 2)
    with pytest.raises(ValueError, match="iteration 2"):
        segment(data, first, 3, 5)


def test_evaluate_top1_matches_a_manual_count(data):
    images, labels = data
    checkpoint, _ = segment(data, None, 0, 2)
    model = model_from_checkpoint(checkpoint).train()
    accuracy = evaluate_top1(model, images, labels, batch=7, pixel_mean=MEAN)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        pred = model(preprocess(images[:, :, 2:34, 2:34], MEAN)).argmax(1)
    assert accuracy == (pred == labels).sum().item() / len(labels)


# --- data order and augmentation ---------------------------------------------------------------

def test_batch_indices_walk_seeded_epoch_permutations():
    n, b = 7, 3
    batches = torch.cat([batch_indices(n, b, it, seed=5) for it in range(7)])  # 3 epochs
    for epoch in range(3):
        assert sorted(batches[epoch * n:(epoch + 1) * n].tolist()) == list(range(n))
    assert not torch.equal(batches[:n], batches[n:2 * n])
    assert torch.equal(batch_indices(n, b, 4, seed=5), batches[12:15])  # pure in (seed, it)
    assert not torch.equal(batch_indices(n, b, 4, seed=6), batches[12:15])


def test_crops_and_mirrors():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 9, 8), dtype=torch.uint8, generator=g)
    assert torch.equal(crop_batch(images, 4), images[:, :, 2:6, 2:6])
    crops = crop_batch(images, 4, torch.Generator().manual_seed(1))
    offsets = set()
    for image, crop in zip(images, crops):
        found = [(y, x) for y in range(6) for x in range(5)
                 if torch.equal(image[:, y:y + 4, x:x + 4], crop)]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 1
    flipped = mirror_batch(crops, torch.Generator().manual_seed(2))
    same = [torch.equal(f, c) for f, c in zip(flipped, crops)]
    for f, c, s in zip(flipped, crops, same):
        assert s or torch.equal(f, c.flip(-1))
    assert 0 < sum(same) < len(same)


def test_classification_sampler_rejects_small_images():
    with pytest.raises(ValueError, match="smaller than the input size"):
        classification_sampler(torch.zeros(2, 3, 30, 30, dtype=torch.uint8), [0, 1], 32)


# --- R-CNN windows -----------------------------------------------------------------------------

def brute_force_labels(proposals, gt_boxes, gt_classes, fg_iou):
    labels, best_ious = [], []
    for p in proposals:
        best, best_class = 0.0, 0
        for g, c in zip(gt_boxes, gt_classes):
            iw = min(p[2], g[2]) - max(p[0], g[0]) + 1
            ih = min(p[3], g[3]) - max(p[1], g[1]) + 1
            inter = max(iw, 0) * max(ih, 0)
            union = ((p[2] - p[0] + 1) * (p[3] - p[1] + 1) + (g[2] - g[0] + 1) * (g[3] - g[1] + 1)
                     - inter)
            if inter / union > best:
                best, best_class = inter / union, c
        labels.append(best_class if best >= fg_iou else 0)
        best_ious.append(best)
    return labels, best_ious


def random_boxes(rng, n, size=40):
    xy = rng.integers(1, size, (n, 2))
    wh = rng.integers(0, 15, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_label_windows_matches_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(20):
        gt = random_boxes(rng, rng.integers(1, 5))
        proposals = np.concatenate([random_boxes(rng, 30), gt])
        classes = rng.integers(1, 21, len(gt))
        labels, ious = label_windows(proposals, gt, classes, 0.5)
        want_labels, want_ious = brute_force_labels(proposals, gt, classes, 0.5)
        assert labels.tolist() == want_labels
        assert np.allclose(ious.numpy(), want_ious, rtol=0, atol=1e-12)
    assert any(want_labels) and not all(want_labels)


def test_label_windows_hand_worked():
    gt, classes = [[1, 1, 10, 10]], [7]
    # same box: IoU 1; shifted by 5 px: 50 / 150; touching in one pixel column: 10 / 190
    labels, ious = label_windows([[1, 1, 10, 10], [6, 1, 15, 10], [10, 1, 19, 10]], gt, classes,
                                 0.3)
    assert labels.tolist() == [7, 7, 0]
    assert ious.tolist() == pytest.approx([1.0, 1 / 3, 10 / 190])
    labels, ious = label_windows([[1, 1, 5, 5]], np.zeros((0, 4)), [], 0.5)
    assert labels.tolist() == [0] and ious.tolist() == [0.0]


def test_build_windows_keeps_ground_truth_as_foreground():
    gt = [np.array([[1, 1, 10, 10], [20, 20, 30, 30]]), np.array([[5, 5, 9, 9]])]
    classes = [np.array([3, 15]), np.array([1])]
    proposals = [np.array([[2, 1, 10, 10], [40, 40, 50, 50]]), np.zeros((0, 4))]
    index, boxes, labels = build_windows(gt, classes, proposals, 0.5)
    assert index.tolist() == [0, 0, 0, 0, 1]
    assert boxes.tolist()[:2] == gt[0].tolist()
    assert labels.tolist() == [3, 15, 3, 0, 1]


def test_windows_warper_calls_warp_box_per_window():
    calls = []

    def fake_warp(image, box, size, context_pad, mean):
        calls.append((image[0, 0, 0], tuple(box), size, context_pad, tuple(mean)))
        return np.full((size, size, 3), image[0, 0, 0] + box[0], dtype=np.uint8)

    images = [np.full((5, 6, 3), 10 * i, dtype=np.uint8) for i in range(3)]
    warp = windows_warper(images, fake_warp, 8, 2, MEAN)
    out = warp(np.array([2, 0]), np.array([[1, 1, 3, 3], [4, 1, 5, 5]]))
    assert out.shape == (2, 3, 8, 8) and out.dtype == torch.uint8
    assert out[:, 0, 0, 0].tolist() == [21, 4]
    assert calls[0] == (20, (1, 1, 3, 3), 8, 2, tuple(MEAN))


def fake_warp_batch(image_index, boxes):
    """A stand-in for windows_warper: the patch encodes its window's row."""
    value = torch.as_tensor(boxes[:, 0], dtype=torch.uint8)
    return value.view(-1, 1, 1, 1).expand(-1, 3, 32, 32).clone()


def detection_windows():
    labels = np.array([0] * 30 + [3] * 4 + [7] * 3)
    boxes = np.zeros((len(labels), 4), dtype=int)
    boxes[:, 0] = np.arange(len(labels))  # window id, read back from the fake patches
    return np.zeros(len(labels), dtype=int), boxes, labels


def test_detection_sampler_balances_and_cycles_pools():
    sampler = detection_sampler(*detection_windows(), fake_warp_batch, fg_per_batch=2)
    seen_fg = []
    for it in range(7):  # the 7 foreground windows: one full epoch of the fg pool in 3.5 batches
        images, labels = sampler(it, 8, seed=0)
        ids = images[:, 0, 0, 0].long()
        assert images.shape == (8, 3, 32, 32)
        assert (labels > 0).sum() == 2 and torch.all(labels[2:] == 0)
        assert torch.equal(labels, torch.as_tensor(detection_windows()[2])[ids])
        seen_fg += ids[:2].tolist()
    assert sorted(seen_fg[:7]) == list(range(30, 37)) and sorted(seen_fg[7:]) == list(range(30, 37))
    a, _ = sampler(3, 8, seed=0)
    assert torch.equal(a, sampler(3, 8, seed=0)[0])


def test_detection_sampler_needs_both_pools():
    index, boxes, labels = detection_windows()
    with pytest.raises(ValueError, match="foreground and background"):
        detection_sampler(index, boxes, np.zeros_like(labels), fake_warp_batch, 2)


# --- fine-tuning -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pretrained(data):
    return segment(data, None, 0, 2)[0]


def tune(source, data, iters=4, **kw):
    args = dict(train="all", lr=0.01, lr_step=2, head_lr_mult=10, head_init_std=0.01,
                num_classes=21, mirror=True, batch_size=8, seed=3, pixel_mean=MEAN, threads=1,
                log_every=2)
    sampler = classification_sampler(data[0], data[1] * 5, 32)  # labels 0, 5, 10, 15
    return finetune(source, sampler, iters, **{**args, **kw})


def test_fcft_changes_only_fully_connected_layers(pretrained, data):
    tuned, rows = tune(pretrained, data, train="fc")
    assert tuned["model"]["fc8.weight"].shape[0] == 21 and tuned["arch"]["num_classes"] == 21
    for layer in CONVS:
        for kind in ("weight", "bias"):
            key = f"{layer}.{kind}"
            assert torch.equal(tuned["model"][key], pretrained["model"][key]), key
    for layer in ("fc6", "fc7"):
        assert not torch.equal(tuned["model"][f"{layer}.weight"],
                               pretrained["model"][f"{layer}.weight"]), layer
    assert [r["iteration"] for r in rows] == [2, 4] and tuned["train"] == "fc"


def test_ft_changes_the_convolutions(pretrained, data):
    tuned, _ = tune(pretrained, data, iters=3, train="all")
    assert not torch.equal(tuned["model"]["conv1.weight"], pretrained["model"]["conv1.weight"])
    lrs = sorted({g["lr"] for g in tuned["optimizer"]["param_groups"]})
    assert lrs == pytest.approx([0.001, 0.002, 0.01, 0.02])  # iteration 3: lr / 10, head x10


def test_finetune_resume_equals_uninterrupted(pretrained, data, tmp_path):
    whole, whole_rows = tune(pretrained, data, iters=5)
    part, rows_a = tune(pretrained, data, iters=5, stop=3)
    save_checkpoint(part, tmp_path / "ft.pt")
    rest, rows_b = tune(pretrained, data, iters=5, resume=load_checkpoint(tmp_path / "ft.pt"))
    assert_same_checkpoint(whole, rest)
    assert whole_rows == rows_a + rows_b
    saved, _ = tune(pretrained, data, iters=5, save_every=2, save_path=tmp_path / "s.pt")
    assert_same_checkpoint(whole, saved)
    assert_same_checkpoint(whole, load_checkpoint(tmp_path / "s.pt"))


def test_finetune_accepts_a_path_and_refuses_a_different_train(pretrained, data, tmp_path):
    save_checkpoint(pretrained, tmp_path / "pre.pt")
    from_path, _ = tune(tmp_path / "pre.pt", data, iters=2, train="fc")
    from_dict, _ = tune(pretrained, data, iters=2, train="fc")
    assert_same_checkpoint(from_path, from_dict)
    part, _ = tune(pretrained, data, iters=4, stop=2, train="fc")
    with pytest.raises(ValueError, match="resume checkpoint trains"):
        tune(pretrained, data, iters=4, resume=part, train="all")


def test_finetune_with_detection_batches(pretrained):
    sampler = detection_sampler(*detection_windows(), fake_warp_batch, fg_per_batch=2)
    tuned, _ = finetune(pretrained, sampler, 2, train="fc", lr=0.001, lr_step=20000,
                        head_lr_mult=10, head_init_std=0.01, num_classes=21, mirror=True,
                        batch_size=8, seed=0, pixel_mean=MEAN, threads=1)
    model = model_from_checkpoint(tuned)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 21)


def test_cuda_speedups_stay_off_on_the_cpu():
    """AMP and channels-last are CUDA-only switches: on the CPU nothing changes (determinism)."""
    import contextlib

    from layerwise.training import cuda_speedups

    model = torch.nn.Conv2d(3, 4, 3)
    autocast, fmt = cuda_speedups(model, "cpu", amp=True, channels_last=True)
    assert autocast is contextlib.nullcontext and fmt == torch.contiguous_format
    assert model.weight.is_contiguous()
