"""Job plumbing shared by the workflow scripts: logs and progress bars (SPEC §2)."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm


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
