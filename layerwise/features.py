"""Activation dumps (SPEC §8): one forward pass writes every layer of the thesis to HDF5.

The analyses of chapters 2-5 read the activations of pool1, pool2, conv3, conv4, pool5, fc6 and
fc7 (thesis §1.1; taps from `models.extract_taps`) on whole VOC images, VOC ground-truth boxes
and SUN scenes. Each (network, dataset, layer) is one file:

    features  (N, C, H, W) float16 (or float32); fc layers have H = W = 1
    labels    VOC images: (N, 20) int8 1 / -1 / 0; gt boxes and SUN: (N,) class index
    index     (N,) strings aligned with the rows: VOC image ids (one per box for gt boxes),
              SUN paths below the dataset root
    boxes     gt boxes only: (N, 4) 1-based VOC pixels
    attrs     network, layer, dataset, snapshot, arch, input_size, classes, config_hash,
              and whatever else the caller adds (the workflow adds width and iteration)

Chunks hold CHUNK_ROWS samples by whole channels (all of them, or a power of two), at most
CHUNK_BYTES and CHUNK_CHANNELS, so that both access patterns of the analyses touch few chunks
and decompress little they do not use: a block of samples over all channels (classification,
§1.2, §2.4) and all samples of a block of channels (entropy, §2.2; one channel of fc7 decompresses
at most 64). Blocks of whole chunk rows are written at once, so no chunk is compressed twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd
import torch

from layerwise import hdf5
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import atomic_path
from layerwise.models import TAPS, extract_taps, preprocess
from layerwise.training import crop_batch

DTYPES = ("float16", "float32")
BATCH_SIZE = 128
CHUNK_ROWS = 256
CHUNK_BYTES = 1 << 20
CHUNK_CHANNELS = 64
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass
class Source:
    """The images of one dataset and what the feature files carry beside them.

    images: (N, 3, S, S) uint8, an array or an h5py Dataset (read one batch at a time).
    """

    images: object
    labels: np.ndarray
    index: list
    classes: list
    extra: dict


# --- sources ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _pack(path, name):
    with h5py.File(path, "r") as f:
        yield f, f[name]


def _check_rows(images, n, what):
    if len(images) != n:
        raise ValueError(f"{len(images)} images but {n} rows in {what}: the files are out of step")


@contextlib.contextmanager
def open_gtboxes(patches):
    """The R-CNN warped ground-truth boxes of a gt-box file (SPEC §4.3; thesis §2.4)."""
    with _pack(patches, "patches") as (f, images):
        ids = [s.decode() for s in f["image_ids"][:]]
        yield Source(images, f["labels"][:].astype(np.int64), ids, list(VOC_CLASSES),
                     {"boxes": f["boxes"][:]})


@contextlib.contextmanager
def open_voc_images(images, labels):
    """Whole VOC images (thesis §1.2, §4) with the 1 / -1 / 0 labels of the labels CSV."""
    table = pd.read_csv(labels, dtype={"image_id": str})
    with _pack(images, "images") as (_, pack):
        _check_rows(pack, len(table), labels)
        yield Source(pack, table[list(VOC_CLASSES)].to_numpy(np.int8),
                     table["image_id"].tolist(), list(VOC_CLASSES), {})


@contextlib.contextmanager
def open_sun(images, split, part):
    """One part of the SUN split (thesis §1.2): scene index labels, paths as the index."""
    table = pd.read_csv(split)
    rows = table[table["split"] == part]
    with _pack(images, "images") as (f, pack):
        _check_rows(pack, len(rows), split)
        yield Source(pack, f["labels"][:].astype(np.int64), rows["path"].tolist(),
                     [str(c) for c in f.attrs["classes"]], {})


def open_source(dataset, **paths):
    """The Source of a dataset named as in SPEC §8: voc07_<split>_images, voc07_<split>_gtboxes
    or sun_<part>. `paths`: images + labels, patches, or images + split, respectively."""
    if dataset.startswith("voc07_") and dataset.endswith("_images"):
        return open_voc_images(paths["images"], paths["labels"])
    if dataset.startswith("voc07_") and dataset.endswith("_gtboxes"):
        return open_gtboxes(paths["patches"])
    if dataset.startswith("sun_"):
        return open_sun(paths["images"], paths["split"], dataset[len("sun_"):])
    raise ValueError(f"unknown feature dataset {dataset!r}: expected voc07_<split>_images, "
                     "voc07_<split>_gtboxes or sun_<part>")


# --- file layout --------------------------------------------------------------------------------

def chunk_shape(shape, itemsize, rows=CHUNK_ROWS, target_bytes=CHUNK_BYTES,
                max_channels=CHUNK_CHANNELS):
    """HDF5 chunks for (N, C, H, W) features: `rows` samples by all C channels when they fit in
    `target_bytes` and `max_channels`, else by the largest power of two of channels that does
    (at least one). The channel cap bounds what reading one channel decompresses (fc layers)."""
    n, c, h, w = shape
    rows = max(1, min(n, rows))
    per_channel = rows * h * w * itemsize
    if c <= max_channels and c * per_channel <= target_bytes:
        return (rows, c, h, w)
    channels = 1
    while (channels * 2 <= min(c, max_channels)
           and channels * 2 * per_channel <= target_bytes):
        channels *= 2
    return (rows, channels, h, w)


def config_hash(params) -> str:
    """A 16-hex-digit hash of the parameters that produced a file (SPEC §8, §13)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _create_file(f, shape, dtype, chunks, compression, source, attrs):
    filters = hdf5.filters(compression) if shape[0] else {}
    f.create_dataset("features", shape=shape, dtype=dtype, chunks=chunks if shape[0] else None,
                     **filters)
    f.create_dataset("labels", data=source.labels)
    f.create_dataset("index", data=np.array(source.index, dtype=object),
                     dtype=h5py.string_dtype())
    for name, value in source.extra.items():
        f.create_dataset(name, data=value)
    f.attrs.update(attrs)


# --- the forward pass ---------------------------------------------------------------------------

def read_block(images, start, stop, input_size):
    """uint8 (n, 3, input_size, input_size) tensor of rows start..stop: centre crops when the
    stored images are larger (Caffe's test-time crop), the images themselves otherwise."""
    block = torch.from_numpy(np.asarray(images[start:stop]))
    if tuple(block.shape[-2:]) != (input_size, input_size):
        block = crop_batch(block, input_size)
    return block


@torch.no_grad()
def forward_taps(model, batch, pixel_mean, layers=TAPS, device="cpu"):
    """The taps of one uint8 batch in eval mode: {layer: float32 (B, C, H, W) on the CPU}."""
    taps = extract_taps(model, preprocess(batch.to(device), pixel_mean), layers)
    return {name: t.cpu() for name, t in taps.items()}


def block_features(model, images, batch_size, pixel_mean, layers=TAPS, dtype="float16",
                   device="cpu"):
    """Taps of a block of uint8 images, `batch_size` at a time, in the file dtype:
    {layer: numpy (n, C, H, W)}. float16 overflow is an error, never a silent inf."""
    out = {}
    for a in range(0, len(images), batch_size):
        for name, tap in forward_taps(model, images[a:a + batch_size], pixel_mean, layers,
                                      device).items():
            if name not in out:
                out[name] = torch.empty((len(images),) + tap.shape[1:],
                                        dtype=getattr(torch, dtype))
            if dtype == "float16":
                _check_float16(name, tap)
            out[name][a:a + len(tap)].copy_(tap)  # converts in the same pass as the copy
    return {name: t.numpy() for name, t in out.items()}


def _check_float16(name, tap):
    # One aminmax pass over the float32 tap, on torch's threads: 2x faster than max(abs) and
    # 9x faster than an isinf pass over the float16 copy. NaN propagates into `peak`.
    if not tap.numel():
        return
    low, high = torch.aminmax(tap)
    peak = max(float(high), -float(low))
    if not peak <= FLOAT16_MAX:
        raise ValueError(f"{name}: activation {peak:g} overflows float16; "
                         "dump this network with dtype float32 (config features.dtype)")


def dump_features(model, source, outputs, attrs, *, pixel_mean, batch_size=BATCH_SIZE,
                  dtype="float16", compression=hdf5.DEFAULT,
                  chunk_rows=CHUNK_ROWS, chunk_bytes=CHUNK_BYTES, chunk_channels=CHUNK_CHANNELS,
                  device="cpu", progress=None):
    """Write the activations of `source`'s images at every layer of `outputs` in ONE forward
    pass (SPEC §8; layers as thesis §1.1).

    model: an AlexNet of `models`, run in eval mode (no dropout) without autograd.
    source: a `Source`. outputs: {layer: path}, a subset of `models.TAPS`. attrs: file
    attributes (network, dataset, snapshot, config_hash, ...); layer, arch, input_size and
    classes are added. compression: a name of `hdf5.COMPRESSIONS`. The images go through the
    network in blocks of whole chunk rows, `batch_size` at a time; an I/O thread reads the next
    block and compresses and writes the previous one while the network runs. Every file is
    written under a temporary name and renamed only when all are complete. `progress(n)` is
    called with the number of samples written after each block.
    """
    if dtype not in DTYPES:
        raise ValueError(f"feature dtype {dtype!r}: expected one of {DTYPES}")
    hdf5.filters(compression)  # an unknown name fails here, before any file is opened
    layers = [name for name in TAPS if name in outputs]
    if len(layers) != len(outputs):
        raise ValueError(f"unknown layers {sorted(set(outputs) - set(TAPS))}: expected {TAPS}")
    model.eval()
    n = len(source.images)
    rows = max(1, min(n, chunk_rows))
    block = rows * -(-min(batch_size, n) // rows) if n else 1  # whole chunk rows, whole batches
    base = {**attrs, "arch": model.arch, "input_size": model.input_size,
            "classes": source.classes}
    with contextlib.ExitStack() as stack:
        tmps = {name: stack.enter_context(atomic_path(outputs[name])) for name in layers}
        # No chunk cache: each chunk is compressed and written as its block arrives, in the
        # I/O thread, rather than all at once when the files close.
        files = {name: stack.enter_context(h5py.File(tmps[name], "w", rdcc_nbytes=0))
                 for name in layers}

        def create(shapes):
            for name in layers:
                shape = (n,) + shapes[name]
                _create_file(files[name], shape, dtype,
                             chunk_shape(shape, np.dtype(dtype).itemsize, rows, chunk_bytes,
                                         chunk_channels),
                             compression, source, {**base, "layer": name})

        def read(a):
            return read_block(source.images, a, min(a + block, n), model.input_size)

        def write(a, values):
            if a == 0:
                create({name: v.shape[1:] for name, v in values.items()})
            for name in layers:
                files[name]["features"][a:a + len(values[name])] = values[name]
            if progress is not None:
                progress(len(values[name]))

        # HDF5 releases the GIL while it decompresses, compresses and writes, so the I/O
        # thread (h5py's only user from here on) runs beside the forward pass. In flight at
        # most: the next block's images and the previous block's values.
        with ThreadPoolExecutor(max_workers=1) as io:
            reading = io.submit(read, 0) if n else None
            writing = None
            for a in range(0, n, block):
                images = reading.result()
                if a + block < n:
                    reading = io.submit(read, a + block)
                values = block_features(model, images, batch_size, pixel_mean, layers, dtype,
                                        device)
                if writing is not None:
                    writing.result()
                writing = io.submit(write, a, values)
            if writing is not None:
                writing.result()
        if n == 0:
            create(_tap_shapes(model, pixel_mean, layers, device))
        # Leaving the stack closes every file before any is renamed (last in, first out).


def _tap_shapes(model, pixel_mean, layers, device):
    """Per-sample tap shapes, from one blank image (for empty datasets: a batch of one costs
    a noticeable fraction of a small dump, so non-empty ones take the shapes from block 0)."""
    blank = torch.zeros(1, 3, model.input_size, model.input_size, dtype=torch.uint8)
    taps = forward_taps(model, blank, pixel_mean, layers, device)
    return {name: tuple(t.shape[1:]) for name, t in taps.items()}


def read_layer(path):
    """One feature file in memory: (features, labels, index, attrs); for tests and small data.
    Analyses should stream `h5py.File(path)["features"]` in blocks instead."""
    with h5py.File(path, "r") as f:
        index = [s.decode() for s in f["index"][:]]
        return f["features"][:], f["labels"][:], index, dict(f.attrs)
