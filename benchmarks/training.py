"""Training benchmarks of the networks issue (SPEC §14), run on the demo world's real files.

    .venv/bin/python benchmarks/training.py [--results results] [--iters 20] [--reps 3]
                                            [--json FILE]

1. pretraining throughput through the real data pipeline (uint8 pack -> seeded order -> random
   crop -> mirror -> mean subtraction -> SGD step) divided by bare SGD steps on in-memory float
   tensors of the same shape (budget >= 0.9);
2. FC-FT wall time / FT wall time for the same iterations of R-CNN fine-tuning (budget <= 0.5).
Ratios are measured side by side, alternating, with the median of several repetitions.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from layerwise import training
from layerwise.data.images import read_images
from layerwise.data.regions import load_regions
from layerwise.data.warp import scaled_context_pad, warp_box

MEAN = [118, 117, 112]


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def pipeline_vs_bare(results, iters, batch, reps):
    images, labels, attrs = read_images(f"{results}/data/imagenet_train_images.h5")
    images = torch.from_numpy(images)
    ckpt = training.init_checkpoint("alexnet_mini", len(attrs["classes"]), 64, 0.25, seed=0)
    cfg = {"batch_size": batch, "lr": 0.01, "lr_steps": [10**9], "momentum": 0.9,
           "weight_decay": 5e-4, "crop": True, "mirror": True, "log_every": 10**9}
    model = training.model_from_checkpoint(ckpt)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = torch.randn(batch, 3, 64, 64), torch.randint(0, len(attrs["classes"]), (batch,))

    def bare():
        for _ in range(iters):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def pipeline():
        training.pretrain_segment(ckpt, images, labels, 0, iters, cfg=cfg, seed=0,
                                  pixel_mean=MEAN, threads=torch.get_num_threads())

    pairs = [(timed(bare), timed(pipeline)) for _ in range(reps)]
    ratio = statistics.median(b / p for b, p in pairs)
    return ratio, batch * iters / statistics.median(p for _, p in pairs)


def fcft_vs_ft(results, iters, batch, reps):
    source = training.load_checkpoint(f"{results}/models/pretrain/iter_0.pt")
    images, gt, cls, props = load_regions(f"{results}/data/voc07_trainval_index.csv",
                                          f"{results}/data/voc07_trainval_proposals.h5",
                                          "resources/demo/VOCdevkit", False)
    index, boxes, labels = training.build_windows(gt, cls, props, 0.5)
    warp = training.windows_warper(images, warp_box, 64, scaled_context_pad(16, 64), MEAN)
    sampler = training.detection_sampler(index, boxes, labels, warp, batch // 4)

    def run(train):
        return timed(lambda: training.finetune(
            source, sampler, iters, train=train, lr=0.001, lr_step=20000, head_lr_mult=10,
            head_init_std=0.01, num_classes=21, mirror=True, batch_size=batch, seed=0,
            pixel_mean=MEAN, threads=torch.get_num_threads()))

    pairs = [(run("fc"), run("all")) for _ in range(reps)]
    return (statistics.median(fc / ft for fc, ft in pairs),
            statistics.median(fc for fc, _ in pairs), statistics.median(ft for _, ft in pairs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file (benchmarks/run.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ratio, rate = pipeline_vs_bare(args.results, args.iters, args.batch, args.reps)
    print(f"pretraining pipeline / bare steps: {ratio:.2f} (budget >= 0.9); "
          f"{rate:.0f} img/s through the pipeline")
    fcft_ratio, fcft, ft = fcft_vs_ft(args.results, args.iters, args.batch, args.reps)
    print(f"FC-FT / FT wall time: {fcft_ratio:.2f} (budget <= 0.5); FC-FT {fcft:.2f} s, "
          f"FT {ft:.2f} s")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"{args.iters} iterations, median of {args.reps}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"train_ratio": ratio, "train_rate": rate, "fcft_ratio": fcft_ratio,
                       "fcft_s": fcft, "ft_s": ft}, f)


if __name__ == "__main__":
    main()
