"""R-CNN's feature cache: pool5 of every region of an image, higher layers from it (SPEC §8, §9).

R-CNN (rcnn_cache_pool5_features.m) runs the convolutional trunk once per region and keeps
pool5; fc6 and fc7 are computed from that cache through the network's own fully connected
layers (ReLU, dropout off: `models.fc_from_pool5`), so no detector ever reruns the trunk. The
thesis' detection tables (2.2, 2.3, 4.2, 5.2) use the same protocol.

Rows of an image are its ground-truth boxes (every object, difficult ones included, as
roidb_from_voc.m does), then its selective-search proposals. One cache file per image range
(a shard) holds, beside the features contract of `layerwise.features`:

    boxes      (N, 4) int32 1-based VOC pixels of the rows
    labels     (N,) int64: the class index (0..19) of ground-truth rows, -1 for proposals
    index      (N,) the image id of each row
    offsets    (n + 1,) int64: image i's rows are offsets[i]:offsets[i + 1]
    image_ids  (n,) the shard's images in order
"""

from __future__ import annotations

import contextlib

import h5py
import numpy as np
import pandas as pd
import torch

from layerwise.analysis.ablations import ablate
from layerwise.data.images import load_image
from layerwise.data.proposals import read_proposals, shard
from layerwise.data.voc import ROOT_KEY, VOC_CLASSES, image_path
from layerwise.data.warp import scaled_context_pad, warp_box
from layerwise.features import Source, dump_features
from layerwise.models import fc_from_pool5
from layerwise.training import windows_warper

BOX_COLUMNS = ["x1", "y1", "x2", "y2"]


def image_regions(objects: pd.DataFrame, proposals: np.ndarray):
    """One image's rows: its ground-truth boxes, then its proposals (roidb_from_voc.m).
    Returns (boxes (n, 4) int32, labels (n,) int64: class index of gt rows, -1 for proposals)."""
    gt = objects[BOX_COLUMNS].to_numpy(np.int32).reshape(-1, 4)
    labels = objects["class"].map(VOC_CLASSES.index).to_numpy(np.int64)
    boxes = np.concatenate([gt, np.asarray(proposals, np.int32).reshape(-1, 4)])
    return boxes, np.concatenate([labels, np.full(len(boxes) - len(gt), -1, np.int64)])


class WarpedRegions:
    """The rows of a set of images as a lazy uint8 (N, 3, S, S) array: slicing warps just
    those rows (R-CNN warp with context), so a shard never holds all its patches at once."""

    def __init__(self, images, image_index, boxes, size, context_pad, mean_rgb):
        self.warp = windows_warper(images, warp_box, size, scaled_context_pad(context_pad, size),
                                   mean_rgb)
        self.image_index, self.boxes = image_index, boxes
        self.shape = (len(boxes), 3, size, size)

    def __len__(self):
        return len(self.boxes)

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            raise TypeError("WarpedRegions reads contiguous row ranges (slices) only")
        return self.warp(self.image_index[rows], self.boxes[rows]).numpy()


@contextlib.contextmanager
def open_regions(index_csv, proposals_h5, voc_root, shards, k, size, context_pad, mean_rgb):
    """The k-th of `shards` image ranges of a split as a `features.Source` of warped regions:
    every ground-truth box and proposal of each image, in image order (SPEC §4.3, §8)."""
    index = pd.read_csv(index_csv, dtype={"image_id": str})
    ids, proposals, _ = read_proposals(proposals_h5)
    chosen = shard(list(range(len(ids))), shards, k)
    by_image = dict(tuple(index.groupby("image_id")))
    empty = index.iloc[:0]
    images, boxes, labels, image_index = [], [], [], []
    for j, i in enumerate(chosen):
        b, lab = image_regions(by_image.get(ids[i], empty), proposals[i])
        images.append(load_image(image_path(voc_root, ids[i]), ROOT_KEY))
        boxes.append(b)
        labels.append(lab)
        image_index.append(np.full(len(b), j))
    counts = [len(b) for b in boxes]
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.int32)
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    image_index = np.concatenate(image_index) if image_index else np.zeros(0, np.int64)
    shard_ids = [ids[i] for i in chosen]
    extra = {"boxes": boxes,
             "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
             "image_ids": np.array(shard_ids, dtype=h5py.string_dtype())}
    yield Source(WarpedRegions(images, image_index, boxes, size, context_pad, mean_rgb), labels,
                 [shard_ids[j] for j in image_index.tolist()], list(VOC_CLASSES), extra)


def dump_pool5(model, source, path, attrs, **options):
    """Write the pool5 cache of a region Source (R-CNN's pool5 cache; SPEC §8): one forward
    pass up to pool5, in the features contract; `options` as `features.dump_features`.

    The model is moved to channels-last memory, in place: on a 2-core CPU that runs
    alexnet_mini's pooling and LRN about 1.4x faster (0.31 -> 0.22 s per 256 regions), and
    the values agree with the default layout to float rounding (the cache is float16)."""
    model.to(memory_format=torch.channels_last)
    dump_features(model, source, {"pool5": path}, attrs, **options)


LAYERS = ("pool5", "fc6", "fc7")


def parse_feature(name):
    """A detection feature name -> (layer, ablation): pool5, fc6, fc7, or pool5-<ablation>
    with an ablation of thesis §5 (Table 5.2: pool5-sp-max, pool5-bin)."""
    layer, _, ablation = name.partition("-")
    if layer not in LAYERS or (ablation and layer != "pool5"):
        raise ValueError(f"unknown detection feature {name!r}: expected pool5, fc6, fc7 or "
                         "pool5-<ablation>")
    return layer, ablation or None


def region_features(pool5, feature, model=None):
    """Features `feature` (see `parse_feature`) of cached pool5 rows (n, C, H, W), as float32
    (n, D): pool5 itself (ablated when asked), or fc6 / fc7 through `model`'s fc layers."""
    layer, ablation = parse_feature(feature)
    pool5 = torch.from_numpy(np.asarray(pool5)).float().numpy()  # torch widens float16 ~10x faster
    if layer == "pool5":
        return ablate(pool5, ablation) if ablation else pool5.reshape(len(pool5), -1)
    if model is None:
        raise ValueError(f"{feature} is computed from pool5 through a network: give the model")
    with torch.no_grad():
        out = fc_from_pool5(model, torch.from_numpy(pool5))[layer]
    return out.reshape(len(pool5), -1).numpy()


class RegionCache:
    """Read a split's pool5 cache shards image by image, as the features of one layer.

    `reader(i) -> (feats (n, D) float32, boxes (n, 4), labels (n,))` is the callable
    `svm.hard_negative_mining` takes; `image_ids` lists the images in shard order. Passes in
    image order read (and compute fc6 / fc7 for) blocks of about `block_rows` rows at once;
    an image out of order is read alone (the seeded sample of the feature scale).
    """

    def __init__(self, paths, feature, model=None, block_rows=8192):
        self.feature, self.model, self.block_rows = feature, model, block_rows
        self.files = [h5py.File(p, "r") for p in paths]
        self.image_ids, self.where = [], []
        for f in self.files:
            offsets = f["offsets"][:]
            self.image_ids += [s.decode() for s in f["image_ids"][:]]
            self.where += [(f, int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
        self.block, self.last = None, -1

    def __len__(self):
        return len(self.where)

    def _read(self, f, lo, hi):
        return (region_features(f["features"][lo:hi], self.feature, self.model),
                f["boxes"][lo:hi], f["labels"][lo:hi])

    def __call__(self, i):
        f, lo, hi = self.where[i]
        sequential, self.last = i in (0, self.last + 1), i
        if not sequential:
            return self._read(f, lo, hi)
        if self.block is None or self.block[0] is not f or not self.block[1] <= lo < self.block[2]:
            stop, j = hi, i + 1  # whole images of this file, up to block_rows rows
            while j < len(self.where) and self.where[j][0] is f and \
                    self.where[j][2] - lo <= self.block_rows:
                stop, j = self.where[j][2], j + 1
            self.block = (f, lo, stop, *self._read(f, lo, stop))
        _, start, _, feats, boxes, labels = self.block
        rows = slice(lo - start, hi - start)
        return feats[rows], boxes[rows], labels[rows]

    def close(self):
        for f in self.files:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
