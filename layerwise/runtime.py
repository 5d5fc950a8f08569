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
