# layerwise: what each layer of a CNN learns, and how fine-tuning changes it (Agrawal 2014).
# The stages run in the thesis' order: data -> pretrain -> finetune -> features -> analyses -> report.
import os

from snakemake.utils import min_version

from layerwise.runtime import OPENMP_ENV

min_version("9.0")

# Jobs inherit the environment: a short OpenMP spin, so concurrent torch jobs share the cores.
for name, value in OPENMP_ENV.items():
    os.environ.setdefault(name, value)


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
