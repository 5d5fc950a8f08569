"""PASCAL VOC2007 index and labels (thesis §1.2, SPEC §4.3), read from a VOCdevkit folder.

The same code reads the real VOCdevkit and the demo world's. Image labels follow the devkit:
1 if the class has a non-difficult object in the image, 0 if it has only difficult ones, -1 if
it has none. Difficult and truncated objects are kept in the index, flagged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from layerwise.data import BadInput, bad_input
from layerwise.data.images import load_image

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
INDEX_COLUMNS = ["image_id", "width", "height", "class", "x1", "y1", "x2", "y2", "difficult",
                 "truncated"]
ROOT_KEY = "data.voc_root"


def voc_dir(voc_root) -> Path:
    return Path(voc_root) / "VOC2007"


def image_path(voc_root, image_id: str) -> Path:
    return voc_dir(voc_root) / "JPEGImages" / f"{image_id}.jpg"


def read_image_set(voc_root, split: str) -> list[str]:
    path = voc_dir(voc_root) / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise bad_input(path, "missing image set file", ROOT_KEY)
    ids = path.read_text().split()
    if not ids:
        raise bad_input(path, "image set file lists no images", ROOT_KEY)
    return ids


def _int(node, tag: str, path, default=None) -> int:
    text = node.findtext(tag)
    if text is None or not text.strip():
        if default is not None:
            return default
        raise bad_input(path, f"<{tag}> missing", ROOT_KEY)
    try:
        return int(round(float(text)))
    except (ValueError, OverflowError):
        raise bad_input(path, f"<{tag}> is not a finite number: {text!r}", ROOT_KEY) from None


def _flag(node, tag: str, path) -> int:
    value = _int(node, tag, path, default=0)
    if value not in (0, 1):
        raise bad_input(path, f"<{tag}> must be 0 or 1, not {value}", ROOT_KEY)
    return value


def parse_annotation(path) -> tuple[int, int, list[dict]]:
    """Width, height and objects of one devkit annotation file, validated."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise bad_input(path, f"malformed annotation XML ({e})", ROOT_KEY) from None
    size = root.find("size")
    if size is None:
        raise bad_input(path, "<size> missing", ROOT_KEY)
    width, height = _int(size, "width", path), _int(size, "height", path)
    objects = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise bad_input(path, f"unknown class {name!r}", ROOT_KEY)
        box = obj.find("bndbox")
        if box is None:
            raise bad_input(path, f"object {name!r} has no <bndbox>", ROOT_KEY)
        x1, y1, x2, y2 = (_int(box, t, path) for t in ("xmin", "ymin", "xmax", "ymax"))
        if not (1 <= x1 <= x2 <= width and 1 <= y1 <= y2 <= height):
            raise bad_input(path, f"box {(x1, y1, x2, y2)} of {name!r} lies outside the "
                                  f"{width}x{height} image", ROOT_KEY)
        objects.append({"class": name, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                        "difficult": _flag(obj, "difficult", path),
                        "truncated": _flag(obj, "truncated", path)})
    return width, height, objects


def image_labels(index: pd.DataFrame, image_ids) -> pd.DataFrame:
    """The devkit's per-class image labels: 1 present, 0 only difficult, -1 absent."""
    labels = pd.DataFrame(-1, index=pd.Index(list(image_ids), name="image_id"),
                          columns=list(VOC_CLASSES))
    for (image_id, cls), difficult in index.groupby(["image_id", "class"])["difficult"]:
        labels.loc[image_id, cls] = 0 if difficult.all() else 1
    return labels.reset_index()


def build_index(voc_root, split: str, on_bad_file: str = "error", check_images: bool = True):
    """Objects and labels of one split, plus the (file, reason) list of skipped images.

    With on_bad_file="error" the first bad file raises BadInput naming it; with "skip" the image
    is left out of both tables and reported.
    """
    rows, kept, skipped = [], [], []
    for image_id in read_image_set(voc_root, split):
        try:
            xml = voc_dir(voc_root) / "Annotations" / f"{image_id}.xml"
            width, height, objects = parse_annotation(xml)
            if check_images:
                load_image(image_path(voc_root, image_id), ROOT_KEY)
        except BadInput as e:
            if on_bad_file != "skip":
                raise
            skipped.append(str(e))
            continue
        kept.append(image_id)
        rows += [{"image_id": image_id, "width": width, "height": height, **o} for o in objects]
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    return index, image_labels(index, kept), skipped
