"""Activation-dump benchmark (SPEC §14): dump throughput / bare forward throughput.

    .venv/bin/python benchmarks/features.py [--results results] [--config config.yaml] [--reps 3]
                                            [--json FILE]

The dump is `layerwise.features.dump_features` as the workflow runs it: uint8 patches read from
the gt-box HDF5 file, centre crop, mean subtraction, one forward pass writing all seven layers to
compressed float16 HDF5 files. The bare pass is the same network's forward over the same number
of samples, at the same batch size, on a float32 tensor already in memory (budget >= 0.9). The two
alternate, side by side; the ratio is the median of `reps` pairs.
"""

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import torch
import yaml

from layerwise import features, training
from layerwise.models import TAPS

DATASET = "voc07_test_gtboxes"


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def last_snapshot(results):
    """The most-trained pretraining snapshot: the weights a dump of `alexnet` runs."""
    snapshots = Path(results, "models/pretrain").glob("iter_*.pt")
    return max(snapshots, key=lambda p: int(re.findall(r"\d+", p.name)[0]))


def dump_vs_bare(results, reps, batch, settings, pixel_mean):
    """(median bare / dump time ratio, dump samples per second, samples, file bytes per
    activation value)."""
    model = training.model_from_checkpoint(training.load_checkpoint(last_snapshot(results)))
    model.eval()
    patches = f"{results}/data/{DATASET}.h5"
    with features.open_source(DATASET, patches=patches) as source:
        n, size = len(source.images), model.input_size
    x = torch.randn(batch, 3, size, size)

    @torch.no_grad()
    def bare():
        for a in range(0, n, batch):
            model(x[: min(batch, n - a)])

    def dump(out):
        with features.open_source(DATASET, patches=patches) as source:
            features.dump_features(model, source, {layer: f"{out}/{layer}.h5" for layer in TAPS},
                                   {"network": "bench", "dataset": DATASET},
                                   pixel_mean=pixel_mean, batch_size=batch,
                                   dtype=settings["dtype"], compression=settings["compression"])

    pairs = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as out:
            pairs.append((timed(bare), timed(lambda: dump(out))))
            stored = values = 0  # bytes and activations of the dump's files, counted untimed
            for path in Path(out).glob("*.h5"):
                stored += path.stat().st_size
                with h5py.File(path) as f:
                    values += f["features"].size
    ratio = statistics.median(b / d for b, d in pairs)
    return ratio, n / statistics.median(d for _, d in pairs), n, stored / values


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--config", default="config.yaml", help="features: and data: settings")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file (benchmarks/run.py)")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    torch.set_num_threads(args.threads)
    settings = config["features"]
    ratio, rate, n, size = dump_vs_bare(args.results, args.reps, settings["batch_size"],
                                        settings, config["data"]["pixel_mean"])
    print(f"dump / bare forward throughput: {ratio:.2f} (budget >= 0.9); {rate:.0f} samples/s "
          f"dumped; {size:.2f} file bytes per activation; {n} samples of {DATASET}, "
          f"batch {settings['batch_size']}, {settings['dtype']} {settings['compression']}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.reps}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"dump_ratio": ratio, "dump_rate": rate, "samples": n,
                       "bytes_per_value": size, "compression": settings["compression"]}, f)


if __name__ == "__main__":
    main()
