"""Atomic outputs (SPEC §15): a job killed at any moment leaves nothing that looks complete."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **kwargs)


def resumable_path(output: str | os.PathLike, *inputs, **settings) -> Path:
    """Where a long job keeps its resumable state: beside `output`, named by a fingerprint of
    its input files and settings, so a killed job resumes only into an identical re-run."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        with open(path, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    output = Path(output)
    return output.parent / ".partial" / f"{output.stem}-{h.hexdigest()[:16]}{output.suffix}"
