"""The difficulty gauge: VOC classification mAP of linear SVMs on raw 32x32 pixels."""
import pandas as pd

from layerwise.analysis.baseline import downsampled_pixels
from layerwise.analysis.classification import classification_ap
from layerwise.data.images import read_images
from layerwise.data.voc import VOC_CLASSES
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
p = snakemake.params
(train, y_train, _), (test, y_test, _) = map(read_images, (snakemake.input.train,
                                                           snakemake.input.test))
result = classification_ap(downsampled_pixels(train, p.side), y_train,
                           downsampled_pixels(test, p.side), y_test, C=p.svm["C"],
                           Cs=p.svm["C_sweep"] or None, classes=VOC_CLASSES, seed=p.seed,
                           target_norm=p.svm["feature_norm"])
chance = [100 * (y_test[:, k] > 0).sum() / (y_test[:, k] != 0).sum() for k in range(20)]
table = pd.DataFrame({"run": p.run, "class": [*VOC_CLASSES, "mAP"],
                      "ap": [*result.ap, result.mean_ap], "chance": [*chance, sum(chance) / 20]})
write_csv(table.round(2), snakemake.output[0])
log.info("raw %dx%d pixels: mAP %.2f (chance %.2f), C=%g", p.side, p.side, result.mean_ap,
         sum(chance) / 20, result.C)
