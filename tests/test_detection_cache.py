"""The pool5 region cache (R-CNN, SPEC §8, §9): rows, shards, and fc6 / fc7 computed from the
float16 cache against a full forward pass of the same warped crops."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from layerwise import training
from layerwise.analysis.ablations import binarize, sp_max
from layerwise.data.images import load_image
from layerwise.data.proposals import write_proposals
from layerwise.data.voc import VOC_CLASSES, build_index, image_path
from layerwise.data.warp import warp_box
from layerwise.detection import cache
from layerwise.models import extract_taps, preprocess

MEAN = [118, 117, 112]
SIZE = 32  # alexnet_mini at 32 px: pool5 is 2x2
PAD = 16   # context pad at 227 px (2 px at 32)


@pytest.fixture(scope="module")
def model():
    ck = training.init_checkpoint("alexnet_mini", 21, SIZE, 0.125, seed=1)
    # Caffe's init leaves a tiny net almost dead at fc7; spread the weights (as test_features).
    gen = torch.Generator().manual_seed(2)
    for name, value in ck["model"].items():
        if name.endswith("weight"):
            ck["model"][name] = torch.randn(value.shape, generator=gen) * (2 / value[0].numel()) ** 0.5
    return training.model_from_checkpoint(ck).eval()


@pytest.fixture(scope="module")
def split(tiny_world, tmp_path_factory):
    """The tiny world's test split: index CSV and a proposals file of seeded random boxes."""
    tmp = tmp_path_factory.mktemp("regions")
    voc_root = tiny_world / "VOCdevkit"
    index, labels, _ = build_index(voc_root, "test")
    index.to_csv(tmp / "index.csv", index=False)
    rng = np.random.default_rng(0)
    ids = labels["image_id"].tolist()
    boxes = []
    for n, image_id in enumerate(ids):
        h, w = load_image(image_path(voc_root, image_id), "data.voc_root").shape[:2]
        x1, y1 = rng.integers(1, w // 2, n % 4), rng.integers(1, h // 2, n % 4)
        boxes.append(np.stack([x1, y1, x1 + rng.integers(4, w // 2, n % 4),
                               y1 + rng.integers(4, h // 2, n % 4)], 1))  # image 0: no proposals
    write_proposals(tmp / "proposals.h5", ids, boxes, {})
    return voc_root, tmp / "index.csv", tmp / "proposals.h5", index, ids, boxes


def dump(model, split, tmp_path, shards):
    voc_root, index_csv, proposals_h5 = split[:3]
    paths = []
    for k in range(shards):
        paths.append(tmp_path / f"pool5_{k}.h5")
        with cache.open_regions(index_csv, proposals_h5, voc_root, shards, k, SIZE, PAD,
                                MEAN) as source:
            cache.dump_pool5(model, source, paths[-1], {"network": "test"}, pixel_mean=MEAN,
                             batch_size=5, chunk_rows=4)
    return paths


def test_image_regions_put_every_gt_box_first():
    objects = pd.DataFrame({"class": ["dog", "cat"], "x1": [1, 5], "y1": [2, 6], "x2": [3, 7],
                            "y2": [4, 8], "difficult": [1, 0]})
    boxes, labels = cache.image_regions(objects, np.array([[9, 9, 20, 20]]))
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 20, 20]])
    assert labels.tolist() == [VOC_CLASSES.index("dog"), VOC_CLASSES.index("cat"), -1]


def test_cache_rows_follow_the_images_and_shards_cover_the_split(model, split, tmp_path):
    voc_root, _, _, index, ids, proposals = split
    one, = dump(model, split, tmp_path / "one", 1)
    two = dump(model, split, tmp_path / "two", 2)
    with h5py.File(one) as f:
        offsets, boxes, labels = f["offsets"][:], f["boxes"][:], f["labels"][:]
        assert [s.decode() for s in f["image_ids"][:]] == ids
        whole = f["features"][:]
        rows_index = [s.decode() for s in f["index"][:]]
    for i, image_id in enumerate(ids):
        objects = index[index["image_id"] == image_id]
        lo, hi = offsets[i], offsets[i + 1]
        assert hi - lo == len(objects) + len(proposals[i])
        assert rows_index[lo:hi] == [image_id] * (hi - lo)
        np.testing.assert_array_equal(boxes[lo:lo + len(objects)],
                                      objects[["x1", "y1", "x2", "y2"]].to_numpy())
        np.testing.assert_array_equal(boxes[lo + len(objects):hi], proposals[i])
        assert (labels[lo + len(objects):hi] == -1).all()
    parts = [h5py.File(p)["features"][:] for p in two]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    with cache.RegionCache(two, "pool5") as reader:
        assert reader.image_ids == ids and len(reader) == len(ids)
    # blocks of whole images (any block size, in and out of order) read what the file holds
    order = list(range(len(ids))) + [5, 2, 3, 0, 1, 7, 6]
    for block_rows in (1, 7, 10_000):
        with cache.RegionCache(two, "pool5", block_rows=block_rows) as reader:
            for i in order:
                feats, b, lab = reader(i)
                lo, hi = offsets[i], offsets[i + 1]
                np.testing.assert_array_equal(feats, whole[lo:hi].reshape(hi - lo, -1))
                np.testing.assert_array_equal(b, boxes[lo:hi])
                np.testing.assert_array_equal(lab, labels[lo:hi])


def test_fc_from_the_float16_cache_equals_a_full_forward_of_the_crops(model, split, tmp_path):
    voc_root, _, _, index, ids, proposals = split
    paths = dump(model, split, tmp_path, 2)
    for layer in ("pool5", "fc6", "fc7"):
        with cache.RegionCache(paths, layer, model) as reader:
            for i, image_id in enumerate(ids):
                feats, boxes, _ = reader(i)
                image = load_image(image_path(voc_root, image_id), "data.voc_root")
                crops = np.stack([warp_box(image, b, SIZE, 2, MEAN) for b in boxes])
                with torch.no_grad():
                    want = extract_taps(model, preprocess(
                        torch.from_numpy(crops).permute(0, 3, 1, 2), MEAN), [layer])[layer]
                want = want.reshape(len(boxes), -1).numpy()
                assert feats.dtype == np.float32 and feats.shape == want.shape
                # float16 keeps 11 significant bits; two fc layers spread that rounding
                np.testing.assert_allclose(feats, want, rtol=1e-2, atol=1e-2 * np.abs(want).max())
                assert np.abs(want).max() > 0


def test_region_features_ablate_pool5():
    pool5 = np.random.default_rng(0).normal(size=(3, 4, 2, 2)).astype(np.float16)
    x = pool5.astype(np.float32)
    np.testing.assert_array_equal(cache.region_features(pool5, "pool5"), x.reshape(3, -1))
    np.testing.assert_array_equal(cache.region_features(pool5, "pool5-sp-max"), sp_max(x))
    np.testing.assert_array_equal(cache.region_features(pool5, "pool5-bin"),
                                  binarize(x).reshape(3, -1))
    for bad in ("fc6-bin", "conv3", "pool5-nope"):
        with pytest.raises(ValueError):
            cache.region_features(pool5, bad)
    with pytest.raises(ValueError, match="give the model"):
        cache.region_features(pool5, "fc7")
