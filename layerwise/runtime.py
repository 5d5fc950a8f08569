"""Job plumbing shared by the workflow scripts: logs and progress bars (SPEC §2)."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

# `-j4` on a 2-core laptop runs two 2-thread torch jobs at once, and OpenMP's default busy-wait
# then burns the other job's cores: two fine-tuning jobs side by side took 36 s instead of 22 s.
# A shorter spin keeps a lone job at full speed (0.25 s per iteration either way). It must be in
# the environment before torch loads, so the Snakefile and the benchmarks set it for their jobs.
OPENMP_ENV = {"GOMP_SPINCOUNT": "30000"}


def start_log(path) -> logging.Logger:
    """Send stderr (tracebacks, tqdm) and the job's log lines to the rule's log file."""
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(message)s")
    return logging.getLogger("layerwise")


def progress(iterable=None, **kwargs):
    """A tqdm bar that writes to the log at most every 5 seconds."""
    return tqdm(iterable, file=sys.stderr, mininterval=5, ascii=True, **kwargs)


def resolve_device(name: str) -> str:
    """The config's device: `auto` picks cuda when present (SPEC §13)."""
    import torch  # here, not at the top: the Snakefile imports this package without torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key device: 'cuda' asked for, but no CUDA device is present")
    return name
