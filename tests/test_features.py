"""Activation dumps (SPEC §8): file contract, values against `extract_taps`, one forward pass,
atomic writes, and the workflow's feature targets (dry run)."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pandas as pd
import pytest
import torch

from layerwise import features, training
from layerwise.data.images import write_images
from layerwise.data.voc import VOC_CLASSES
from layerwise.models import TAPS, extract_taps, preprocess

REPO = Path(__file__).resolve().parents[1]
MEAN = [118, 117, 112]
SIZE = 32  # alexnet_mini at 32 px: pool1 8x8, pool2 4x4, conv3/4 4x4, pool5 2x2
N = 11  # not a multiple of the batch or of the chunk rows


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "iter_0.pt"
    ck = training.init_checkpoint("alexnet_mini", 5, SIZE, 0.125, seed=1)
    # Caffe's init leaves these tiny nets almost dead at fc7; spread the weights so every layer
    # carries values float16 rounding can be checked against.
    gen = torch.Generator().manual_seed(2)
    for name, value in ck["model"].items():
        if name.endswith("weight"):
            fan_in = value[0].numel()
            ck["model"][name] = torch.randn(value.shape, generator=gen) * (2 / fan_in) ** 0.5
    training.save_checkpoint(ck, path)
    return path


@pytest.fixture
def model(checkpoint):
    return training.model_from_checkpoint(training.load_checkpoint(checkpoint))


def write_patch_file(path, n=N, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f["patches"] = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
        f["labels"] = rng.integers(0, 20, n).astype(np.int64)
        f.create_dataset("image_ids", data=np.array([f"{1000 + i // 2:06d}" for i in range(n)],
                                                    dtype=object), dtype=h5py.string_dtype())
        f["boxes"] = rng.integers(1, 50, (n, 4)).astype(np.int32)
    return path


@pytest.fixture
def patches(tmp_path):
    return write_patch_file(tmp_path / "voc07_test_gtboxes.h5")


def outputs(folder, layers=TAPS):
    return {name: str(folder / f"{name}.h5") for name in layers}


def dump(model, source_path, folder, **kwargs):
    with features.open_gtboxes(source_path) as source:
        features.dump_features(model, source, outputs(folder), {"network": "pre-0",
                               "dataset": "voc07_test_gtboxes", "snapshot": 0,
                               "config_hash": "abc"}, pixel_mean=MEAN, **kwargs)
    return outputs(folder)


def reference_taps(model, images, batch_size=None):
    """float32 taps in eval mode, computed `batch_size` images at a time (default: all)."""
    model.eval()
    batch_size = batch_size or len(images)
    with torch.no_grad():
        parts = [extract_taps(model, preprocess(torch.from_numpy(images[a:a + batch_size]), MEAN))
                 for a in range(0, len(images), batch_size)]
    return {name: torch.cat([p[name] for p in parts]) for name in TAPS}


def test_file_contract_and_values(model, patches, tmp_path):
    paths = dump(model, patches, tmp_path / "out", batch_size=4, chunk_rows=8)
    with h5py.File(patches) as f:
        images, labels = f["patches"][:], f["labels"][:]
        ids, boxes = [s.decode() for s in f["image_ids"][:]], f["boxes"][:]
    expected = reference_taps(model, images)
    same_batches = reference_taps(model, images, batch_size=4)
    for name in TAPS:
        with h5py.File(paths[name]) as f:
            feats = f["features"]
            assert feats.dtype == np.float16 and feats.ndim == 4
            assert feats.shape == (N, *expected[name].shape[1:])
            assert feats.chunks[0] == 8 and feats.chunks[2:] == feats.shape[2:]
            # Blosc-LZ4 without HDF5's shuffle (layerwise.hdf5): cd_values end in clevel,
            # shuffle, compressor code (1, 0, 1 = level 1, none, lz4).
            blosc = feats.id.get_create_plist().get_filter(0)
            assert blosc[0] == hdf5plugin.BLOSC_ID and blosc[2][-3:] == (1, 0, 1)
            assert not feats.shuffle
            want = expected[name].numpy()
            assert want.max() > 0.1  # the layer is alive: the comparison means something
            # Same batches, same float32 values: the file holds exactly their float16 rounding.
            np.testing.assert_array_equal(feats[:], same_batches[name].numpy().astype(np.float16))
            # Against one batch of all samples: float16 keeps 11 significant bits (relative
            # error 2**-11), plus float32 differences between batch shapes.
            np.testing.assert_allclose(feats[:].astype(np.float32), want, rtol=2**-11,
                                       atol=1e-5 * want.max())
            np.testing.assert_array_equal(f["labels"][:], labels)
            assert [s.decode() for s in f["index"][:]] == ids
            np.testing.assert_array_equal(f["boxes"][:], boxes)
            attrs = dict(f.attrs)
        assert attrs["layer"] == name and attrs["network"] == "pre-0"
        assert attrs["dataset"] == "voc07_test_gtboxes" and attrs["snapshot"] == 0
        assert attrs["arch"] == "alexnet_mini" and attrs["input_size"] == SIZE
        assert attrs["config_hash"] == "abc" and list(attrs["classes"]) == list(VOC_CLASSES)
    assert expected["fc7"].shape[2:] == (1, 1) and expected["pool1"].shape[2:] == (8, 8)


def test_float32_and_other_compressions(model, patches, tmp_path):
    expected = reference_taps(model, h5py.File(patches)["patches"][:])
    for dtype, compression in [("float32", "gzip"), ("float16", "lzf"), ("float16", "none")]:
        paths = dump(model, patches, tmp_path / compression, dtype=dtype, compression=compression,
                     batch_size=64)
        with h5py.File(paths["conv3"]) as f:
            assert f["features"].dtype == np.dtype(dtype)
            assert f["features"].compression == (None if compression == "none" else compression)
            got = f["features"][:]
        if dtype == "float32":
            np.testing.assert_array_equal(got, expected["conv3"].numpy())


def test_one_forward_pass_for_all_layers(model, patches, tmp_path):
    calls = []
    model.conv1.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    model.fc8.register_forward_hook(lambda mod, inp, out: calls.append("fc8"))
    dump(model, patches, tmp_path, batch_size=4, chunk_rows=8)
    # Each sample exactly once, in batches of 4; fc8 never runs.
    assert calls == [4, 4, 3]


def test_same_inputs_same_outputs(model, patches, tmp_path):
    a = dump(model, patches, tmp_path / "a", batch_size=4)
    b = dump(model, patches, tmp_path / "b", batch_size=4)
    for name in TAPS:
        np.testing.assert_array_equal(features.read_layer(a[name])[0],
                                      features.read_layer(b[name])[0])


def test_eval_mode_without_dropout(model, patches, tmp_path):
    model.train()
    a = dump(model, patches, tmp_path / "a")
    torch.manual_seed(123)
    b = dump(model, patches, tmp_path / "b")
    np.testing.assert_array_equal(features.read_layer(a["fc7"])[0],
                                  features.read_layer(b["fc7"])[0])


@pytest.mark.parametrize("shape, itemsize, target, cap", [
    ((1000, 24, 16, 16), 2, 1 << 20, 64), ((3, 96, 27, 27), 2, 1 << 20, 64),
    ((15000, 96, 27, 27), 2, 1 << 20, 64), ((15000, 256, 6, 6), 2, 1 << 20, 64),
    ((500, 4096, 1, 1), 2, 1 << 20, 64), ((500, 4096, 1, 1), 4, 1 << 12, 64),
    ((500, 48, 1, 1), 2, 1 << 20, 64), ((500, 96, 1, 1), 2, 1 << 20, 64),
    ((10, 7, 5, 5), 4, 1, 64), ((0, 7, 5, 5), 4, 1 << 20, 4)])
def test_chunk_shape_brute_force(shape, itemsize, target, cap):
    rows, c, h, w = features.chunk_shape(shape, itemsize, 256, target, cap)
    assert rows == max(1, min(shape[0], 256)) and (h, w) == shape[2:]
    fits = [k for k in range(1, shape[1] + 1) if k * rows * h * w * itemsize <= target and k <= cap]
    if shape[1] in fits:
        assert c == shape[1]
    else:  # the largest power of two that fits, and at least one channel
        powers = [k for k in fits if k & (k - 1) == 0]
        assert c == (max(powers) if powers else 1)


def test_centre_crops_of_larger_stored_images(model, tmp_path):
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, (5, 3, SIZE + 4, SIZE + 4), dtype=np.uint8)
    split = pd.DataFrame({"path": [f"a/x/{i}.jpg" for i in range(7)], "scene": "x",
                          "split": ["train", "test", "train", "test", "test", "test", "test"]})
    split.to_csv(tmp_path / "split.csv", index=False)
    write_images(tmp_path / "sun.h5", stored, np.arange(5) % 2, {"classes": ["x", "y"]})
    with features.open_source("sun_test", images=tmp_path / "sun.h5",
                              split=tmp_path / "split.csv") as source:
        features.dump_features(model, source, outputs(tmp_path, ["pool5"]), {}, pixel_mean=MEAN,
                               dtype="float32")
    got, labels, index, attrs = features.read_layer(tmp_path / "pool5.h5")
    expected = reference_taps(model, stored[:, :, 2:2 + SIZE, 2:2 + SIZE])["pool5"]
    np.testing.assert_array_equal(got, expected.numpy())
    assert index == [f"a/x/{i}.jpg" for i in (1, 3, 4, 5, 6)]
    np.testing.assert_array_equal(labels, [0, 1, 0, 1, 0])
    assert list(attrs["classes"]) == ["x", "y"]


def test_voc_image_labels_and_ids(model, tmp_path):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (3, 3, SIZE, SIZE), dtype=np.uint8)
    table = pd.DataFrame(rng.choice([-1, 0, 1], (3, 20)), columns=VOC_CLASSES)
    table.insert(0, "image_id", ["000005", "000007", "000009"])
    table.to_csv(tmp_path / "labels.csv", index=False)
    write_images(tmp_path / "images.h5", images, table[list(VOC_CLASSES)].to_numpy(), {})
    with features.open_source("voc07_test_images", images=tmp_path / "images.h5",
                              labels=tmp_path / "labels.csv") as source:
        features.dump_features(model, source, outputs(tmp_path, ["fc6"]), {}, pixel_mean=MEAN)
    _, labels, index, _ = features.read_layer(tmp_path / "fc6.h5")
    assert labels.dtype == np.int8
    np.testing.assert_array_equal(labels, table[list(VOC_CLASSES)].to_numpy())
    assert index == ["000005", "000007", "000009"]
    table.iloc[:2].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match="out of step"):
        features.open_source("voc07_test_images", images=tmp_path / "images.h5",
                             labels=tmp_path / "short.csv").__enter__()


def test_failed_dump_leaves_no_file(model, patches, tmp_path):
    done = []

    def fail_after_first_block(n):
        done.append(n)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        dump(model, patches, tmp_path, batch_size=4, chunk_rows=4, progress=fail_after_first_block)
    assert done == [4]
    assert list(tmp_path.iterdir()) == [patches]  # no output, no temporary left behind


KILLED_DUMP = """
import sys, time
sys.path.insert(0, {tests!r})
import test_features as t
from layerwise import training

def stall(n):
    print("block written", flush=True)
    time.sleep(60)

model = training.model_from_checkpoint(training.load_checkpoint({checkpoint!r}))
t.dump(model, {patches!r}, t.Path({out!r}), batch_size=4, chunk_rows=4, progress=stall)
"""


def test_killed_dump_leaves_nothing_complete_looking(checkpoint, patches, tmp_path):
    out = tmp_path / "out"
    code = KILLED_DUMP.format(tests=str(Path(__file__).parent), checkpoint=str(checkpoint),
                              patches=str(patches), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "block written\n"
        proc.kill()  # SIGKILL: no handler, no cleanup runs
    finally:
        proc.wait(timeout=60)
    left = sorted(p.name for p in out.iterdir())
    assert left and all(name.startswith(".") and ".tmp" in name for name in left), left
    assert not any((out / f"{name}.h5").exists() for name in TAPS)


def test_float16_overflow_is_an_error(model, patches, tmp_path):
    with torch.no_grad():
        model.conv1.bias.fill_(1e5)
    with pytest.raises(ValueError, match="overflows float16"):
        dump(model, patches, tmp_path)
    assert list(tmp_path.iterdir()) == [patches]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -7e4])
def test_float16_check_catches_nan_inf_and_negative_overflow(bad):
    tap = torch.zeros(2, 3, 2, 2)
    features._check_float16("conv3", tap)  # zeros pass
    tap[1, 2, 0, 1] = bad
    with pytest.raises(ValueError, match="conv3: activation .* overflows float16"):
        features._check_float16("conv3", tap)


def test_empty_dataset(model, tmp_path):
    path = write_patch_file(tmp_path / "empty.h5", n=0)
    paths = dump(model, path, tmp_path / "out")
    got, labels, index, _ = features.read_layer(paths["pool2"])
    assert got.shape == (0, 2 * round(256 * 0.125 / 2), 4, 4) and index == [] and len(labels) == 0


def test_bad_arguments(model, patches, tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        dump(model, patches, tmp_path, dtype="float64")
    with pytest.raises(ValueError, match="compression"):
        dump(model, patches, tmp_path, compression="zstd")
    with pytest.raises(ValueError, match="unknown feature dataset"):
        features.open_source("imagenet_val", images="x")


def test_config_hash_follows_params():
    a = features.config_hash({"x": 1, "y": [1, 2]})
    assert a == features.config_hash({"y": [1, 2], "x": 1}) and len(a) == 16
    assert a != features.config_hash({"x": 1, "y": [1, 3]})


def test_workflow_layers_are_the_taps():
    text = (REPO / "rules" / "features.smk").read_text()
    assert f"FEATURE_LAYERS = {list(TAPS)!r}".replace("'", '"') in text


def test_dry_run_builds_feature_targets(tmp_path):
    """`snakemake -n` on configs/smoke.yaml: one dump job per (network, dataset), all seven
    layers from it, for a fine-tuned, a pretrained-only and a pre-N network."""
    targets = [f"results/features/ft/voc07_test_gtboxes/{name}.h5" for name in TAPS]
    targets += ["results/features/alexnet/sun_test/conv3.h5",
                "results/features/pre-0/voc07_trainval_images/fc7.h5"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-d", str(tmp_path), *targets,
                           "--configfile", str(REPO / "configs" / "smoke.yaml")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    stats = dict(line.split() for line in out.split("Job stats:")[1].splitlines()[3:]
                 if len(line.split()) == 2)
    assert stats["dump_features"] == "3" and stats["pack_voc_images"] == "1"
    assert "input: results/models/ft.pt, results/data/voc07_test_gtboxes.h5" in out
    assert "results/models/pretrain/iter_40.pt" in out  # alexnet: smoke's snapshot 40
    assert "wildcards: network=pre-0, dataset=voc07_trainval_images" in out
    assert "results/models/pretrain/iter_0.pt, results/data/voc07_trainval_images.h5, " \
           "results/data/voc07_trainval_labels.csv" in out
    assert not (tmp_path / "results").exists()
