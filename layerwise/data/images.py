"""Reading dataset images with errors that name the file and the config key (SPEC §15)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from layerwise.data import bad_input


def load_image(path, key: str) -> np.ndarray:
    """Decode an image fully into RGB uint8; a truncated or unreadable file raises BadInput."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise bad_input(path, f"unreadable image ({e})", key) from None
