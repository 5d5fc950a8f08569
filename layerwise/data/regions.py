"""The images, ground truth and proposals of a VOC split, for R-CNN fine-tuning (SPEC §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerwise.data.images import load_image
from layerwise.data.patches import select_gtboxes
from layerwise.data.proposals import read_proposals
from layerwise.data.voc import ROOT_KEY, VOC_CLASSES, image_path


def load_regions(index_csv, proposals_h5, voc_root, include_difficult: bool):
    """Per image of the proposal file: RGB image, gt boxes, gt classes (1..20; 0 is background)
    and proposals, all boxes in 1-based VOC pixels."""
    index = select_gtboxes(pd.read_csv(index_csv, dtype={"image_id": str}), include_difficult)
    ids, proposals, _ = read_proposals(proposals_h5)
    by_image = dict(tuple(index.groupby("image_id")))
    empty = index.iloc[:0]
    images, gt_boxes, gt_classes = [], [], []
    for image_id in ids:
        objects = by_image.get(image_id, empty)
        images.append(load_image(image_path(voc_root, image_id), ROOT_KEY))
        gt_boxes.append(objects[["x1", "y1", "x2", "y2"]].to_numpy(np.int64))
        gt_classes.append(objects["class"].map(VOC_CLASSES.index).to_numpy(np.int64) + 1)
    return images, gt_boxes, gt_classes, proposals
