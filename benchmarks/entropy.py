"""Entropy at VOC2007 scale (SPEC §14): one layer, all three methods, from HDF5.

    .venv/bin/python benchmarks/entropy.py [--path entropy_bench.h5] [--boxes 15000]
                                           [--memory-mb 1024] [--keep]

1. Writes (once, in a child process, so its memory does not count) an HDF5 file of random
   ReLU-like float16 activations, boxes x 96 x 27 x 27 (pool1 of CaffeNet; 15,000 boxes is about
   1e9 values), chunked and compressed as `layerwise.features` writes real dumps, with 20 classes.
2. Times `filter_entropies` on it (label, weighted-label and spMax-label entropy, T = 100) and
   reports the wall and CPU time and the peak RSS of this process (budget: 120 s, 2 GiB; on a
   shared machine the CPU time is the figure to compare).
3. On a small in-memory slice, times the brute-force threshold loop (for each t_k: select the
   values >= t_k, histogram their classes) against the vectorised code, checks that both give
   the same AuE, and reports the speedup.
The entropy time is the first "N s" figure printed (benchmarks/run.py reads it).
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import h5py
import numpy as np

from layerwise.analysis.selectivity import entropy_bits, filter_entropies, thresholds

SHAPE = (96, 27, 27)
K, T = 20, 100
GIB = 1024**3


def relu_like(rng, shape):
    """Half zeros, the rest exponentially distributed: the shape of post-ReLU activations."""
    x = rng.standard_exponential(shape, dtype=np.float32)
    x[rng.random(shape, dtype=np.float32) < 0.5] = 0
    return x.astype(np.float16)


def generate(path, boxes):
    from layerwise import features, hdf5  # imports torch: only in the generating child process

    shape = (boxes, *SHAPE)
    chunks = features.chunk_shape(shape, 2)
    rows = chunks[0] * 8
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        data = f.create_dataset("features", shape=shape, dtype="float16", chunks=chunks,
                                **hdf5.filters())
        for start in range(0, boxes, rows):
            stop = min(start + rows, boxes)
            data[start:stop] = relu_like(np.random.default_rng(start), (stop - start, *SHAPE))
        f["labels"] = np.random.default_rng(1).integers(0, K, boxes)
    os.replace(tmp, path)


def brute_force_aue(x, labels):
    """The threshold loop: for every t_k, select the scores >= t_k and histogram their classes."""
    n, c = x.shape[:2]
    pos_cls = np.repeat(labels, x[0, 0].size)
    aue = np.zeros((c, 3))
    for j in range(c):
        v = x[:, j].reshape(n, -1).astype(np.float32)
        flat, spmax = v.ravel(), v.max(axis=1)
        curves = []
        for t in thresholds(float(v.max()), T):
            sel, box = flat >= t, spmax >= t
            curves.append([entropy_bits(np.bincount(pos_cls[sel], minlength=K)),
                           entropy_bits(np.bincount(pos_cls[sel], flat[sel], minlength=K)),
                           entropy_bits(np.bincount(labels[box], minlength=K))])
        aue[j] = np.mean(curves, axis=0)
    return aue


def speedup(x, labels):
    start = time.perf_counter()
    fast = filter_entropies(x, labels, K, T=T)
    t_fast = time.perf_counter() - start
    start = time.perf_counter()
    slow = brute_force_aue(x, labels)
    t_slow = time.perf_counter() - start
    ours = np.stack([fast["aue_label"], fast["aue_weighted"], fast["aue_spmax"]], axis=1)
    return t_slow, t_fast, float(np.abs(ours - slow).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", default="entropy_bench.h5")
    parser.add_argument("--boxes", type=int, default=15000)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--slice", type=int, nargs=2, default=(1000, 4), metavar=("BOXES", "CH"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.path, args.boxes)
        return
    if not os.path.exists(args.path):
        subprocess.run([sys.executable, __file__, "--generate", "--path", args.path,
                        "--boxes", str(args.boxes)], check=True)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    with h5py.File(args.path, "r") as f:
        labels = f["labels"][:]
        start, cpu = time.perf_counter(), time.process_time()
        result = filter_entropies(f["features"], labels, K, T=T,
                                  memory_bytes=args.memory_mb << 20)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        n, (c, h, w) = f["features"].shape[0], f["features"].shape[1:]
        boxes, channels = args.slice
        small = f["features"][:boxes, :channels]
    print(f"entropy, three methods, {n} x {c} x {h} x {w} float16 from HDF5 (T = {T}, "
          f"memory budget {args.memory_mb} MiB): {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS "
          f"{rss / GIB:.2f} GiB [load average before: {load}; one process, one thread]")
    print(f"  mean AuE label {result['aue_label'].mean():.4f}, weighted "
          f"{result['aue_weighted'].mean():.4f}, spMax {result['aue_spmax'].mean():.4f} bits")
    t_slow, t_fast, diff = speedup(small, labels[:boxes])
    print(f"brute-force threshold loop vs vectorised on {boxes} x {channels} x {h} x {w}: "
          f"{t_slow:.2f} s vs {t_fast:.2f} s, speedup {t_slow / t_fast:.1f}x "
          f"(largest AuE difference {diff:.1e} bits)")
    if not args.keep:
        os.remove(args.path)


if __name__ == "__main__":
    main()
