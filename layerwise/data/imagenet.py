"""The ImageNet-style source dataset index (ILSVRC-2012 layout, SPEC §4.1–4.2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from layerwise.data import bad_input

ROOT_KEY = "data.imagenet_root"


def imagenet_index(imagenet_root) -> pd.DataFrame:
    """path (relative to the root), wnid, label, split for `train/<wnid>/*` and `val/<wnid>/*`.

    Labels are the position of the wnid among the sorted training folders, as torchvision's
    ImageFolder numbers them; validation must use the same folders.
    """
    root = Path(imagenet_root)
    layout = "expected <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG"
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise bad_input(root / split, f"missing folder ({layout})", ROOT_KEY)
    wnids, to_label = find_classes(str(root / "train"))
    rows = []
    for split in ("train", "val"):
        try:
            samples = make_dataset(str(root / split), to_label, extensions=IMG_EXTENSIONS)
        except (FileNotFoundError, KeyError) as e:
            raise bad_input(root / split, f"{e} ({layout})", ROOT_KEY) from None
        rows += [(Path(p).relative_to(root).as_posix(), wnids[y], y, split) for p, y in samples]
    return pd.DataFrame(rows, columns=["path", "wnid", "label", "split"])
