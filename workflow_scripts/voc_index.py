"""Index one VOC2007 split: objects and 1 / -1 / 0 image labels (SPEC §4.3)."""
from layerwise.data import voc
from layerwise.io import write_csv
from layerwise.runtime import start_log

log = start_log(snakemake.log[0])
index, labels, skipped = voc.build_index(snakemake.params.voc_root, snakemake.wildcards.split,
                                         snakemake.params.on_bad_file)
for reason in skipped:
    log.warning("skipped: %s", reason)
write_csv(index, snakemake.output.index)
write_csv(labels, snakemake.output.labels)
log.info("%d images, %d objects, %d skipped", len(labels), len(index), len(skipped))
