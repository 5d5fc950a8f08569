# layerwise: what each layer of a CNN learns, and how fine-tuning changes it (Agrawal 2014).
# The stages run in the thesis' order: data -> pretrain -> finetune -> features -> analyses -> report.
import os

from snakemake.utils import min_version

min_version("9.0")

# `-j4` on a 2-core laptop runs two 2-thread torch jobs at once. OpenMP's default busy-wait then
# burns the other job's cores: two fine-tuning jobs side by side took 36 s instead of 22 s. A
# shorter spin keeps a lone job at full speed (0.25 s per iteration either way). Jobs inherit it.
os.environ.setdefault("GOMP_SPINCOUNT", "30000")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/pretrain.smk"
include: "rules/finetune.smk"
include: "rules/features.smk"
include: "rules/classification.smk"
include: "rules/selectivity.smk"
include: "rules/visualisation.smk"
include: "rules/detection.smk"
include: "rules/experiments.smk"


rule all:
    default_target: True
    input:
        all_targets(),
