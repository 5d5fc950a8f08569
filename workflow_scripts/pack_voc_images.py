"""Whole VOC images of one split, resized to the network's input size, for image features."""
import numpy as np
import pandas as pd

from layerwise.data import voc
from layerwise.data.images import pack_images, write_images
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
labels = pd.read_csv(snakemake.input.labels, dtype={"image_id": str})
images = pack_images([voc.image_path(p.voc_root, i) for i in labels["image_id"]], p.size,
                     voc.ROOT_KEY, progress=lambda it: progress(it, total=len(labels), desc="images"))
write_images(snakemake.output[0], images, labels[list(voc.VOC_CLASSES)].to_numpy(np.int8),
             {"size": p.size, "split": snakemake.wildcards.split, "classes": list(voc.VOC_CLASSES)})
log.info("%d images at %d px", len(labels), p.size)
