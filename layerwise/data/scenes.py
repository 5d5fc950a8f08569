"""SUN-397-style scenes and the thesis' 50 / 10 / 40 split (thesis §1.2, SPEC §4.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from layerwise.data import BadInput, bad_input
from layerwise.data.images import load_image

ROOT_KEY = "data.sun_root"
_EXTENSIONS = {".jpg", ".jpeg"}


def scan_scenes(sun_root) -> pd.DataFrame:
    """Every image under `<root>/<letter>/<scene>[/<subscene>]/`; the class is the path below
    the letter, as in the SUN397 release (e.g. `bakery/shop`)."""
    root = Path(sun_root)
    if not root.is_dir():
        raise bad_input(root, "SUN397 root does not exist (expected <root>/<letter>/<scene>/*.jpg)",
                        ROOT_KEY)
    rows = [(p.relative_to(root).as_posix(), "/".join(p.relative_to(root).parts[1:-1]))
            for p in sorted(root.rglob("*")) if p.suffix.lower() in _EXTENSIONS]
    rows = [r for r in rows if r[1]]
    if not rows:
        raise bad_input(root, "no images found (expected <root>/<letter>/<scene>/*.jpg)", ROOT_KEY)
    return pd.DataFrame(rows, columns=["path", "scene"])


def stratified_split(scenes: pd.DataFrame, fractions, seed: int) -> pd.DataFrame:
    """Seeded per-class split into train / val / test with the given fractions (thesis: 50/10/40),
    so every class is spread uniformly across the three sets."""
    fractions = np.asarray(fractions, float) / np.sum(fractions)
    parts = []
    for k, (scene, group) in enumerate(scenes.groupby("scene", sort=True)):
        order = np.random.default_rng([seed, k]).permutation(len(group))
        n_train = int(round(fractions[0] * len(group)))
        n_val = int(round(fractions[1] * len(group)))
        split = np.full(len(group), "test", dtype=object)
        split[order[:n_train]] = "train"
        split[order[n_train:n_train + n_val]] = "val"
        parts.append(group.assign(split=split))
    return pd.concat(parts).sort_values("path").reset_index(drop=True)


def drop_unreadable(scenes: pd.DataFrame, sun_root, on_bad_file: str):
    """Decode every image; return the readable rows and the reasons for the others."""
    keep, skipped = [], []
    for path in scenes["path"]:
        try:
            load_image(Path(sun_root) / path, ROOT_KEY)
            keep.append(True)
        except BadInput as e:
            if on_bad_file != "skip":
                raise
            keep.append(False)
            skipped.append(str(e))
    return scenes[np.array(keep, bool)], skipped
