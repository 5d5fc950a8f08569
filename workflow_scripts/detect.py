"""R-CNN detectors on one layer: SVMs with hard-negative mining on trainval, detections and
VOC2007 AP on test (SPEC §9)."""
import pandas as pd

from layerwise import training
from layerwise.data.voc import VOC_CLASSES
from layerwise.detection.cache import RegionCache, parse_feature
from layerwise.detection.evaluate import detect_images, detection_aps
from layerwise.detection.svm import train_detectors
from layerwise.io import write_csv
from layerwise.runtime import progress, start_log

log = start_log(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
training.set_determinism(p.torch_threads)
model = None
if parse_feature(wc.feature)[0] != "pool5":  # fc6 / fc7 through this network's own fc layers
    model = training.model_from_checkpoint(training.load_checkpoint(snakemake.input.checkpoint))
    model.eval()
with RegionCache(snakemake.input.train, wc.feature, model) as train:
    svm = train_detectors(train, len(train), len(VOC_CLASSES), **p.svm, seed=p.seed,
                          progress=lambda it: progress(it, desc="mining"))
log.info("feature scale %.4g; %d trainings; final caches %s negatives", svm["scale"],
         len(svm["log"]), [len(k) for k in svm["neg_keys"]])
write_csv(pd.DataFrame(svm["log"]), snakemake.output.svm_log)
with RegionCache(snakemake.input.test, wc.feature, model) as test:
    detections = detect_images(test, test.image_ids, svm["W"], svm["b"], svm["scale"],
                               p.test["nms"], p.test["max_per_image"], VOC_CLASSES,
                               progress=lambda it: progress(it, desc="testing"))
    image_ids = test.image_ids
write_csv(detections, snakemake.output.detections)
ground_truth = pd.read_csv(snakemake.input.index, dtype={"image_id": str})
aps = detection_aps(detections, ground_truth, VOC_CLASSES, p.test["min_overlap"], image_ids)
write_csv(pd.DataFrame({"class": VOC_CLASSES, "ap": aps}), snakemake.output.ap)
log.info("%s %s: mAP %.2f over %d detections", wc.network, wc.feature, aps.mean(),
         len(detections))
