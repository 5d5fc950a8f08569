"""Decode one part of an image index into a uint8 pack for training and features."""
import numpy as np
import pandas as pd

from layerwise.data.images import pack_images, write_images
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p = snakemake.params
index = pd.read_csv(snakemake.input.index)
rows = index[index["split"] == snakemake.wildcards.part]
classes = sorted(index["scene"].unique()) if "scene" in index else None
labels = rows["label"].to_numpy() if classes is None else \
    rows["scene"].map({c: i for i, c in enumerate(classes)}).to_numpy()
images = pack_images([f"{p.root}/{path}" for path in rows["path"]], p.size, p.key,
                     progress=lambda it: progress(it, total=len(rows), desc="images"))
write_images(snakemake.output[0], images, np.asarray(labels),
             {"size": p.size, "part": snakemake.wildcards.part,
              "classes": classes or sorted(index["wnid"].unique())})
log.info("%d images of %d classes", len(rows), len(classes or index["wnid"].unique()))
