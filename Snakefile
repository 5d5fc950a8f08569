# layerwise: what each layer of a CNN learns, and how fine-tuning changes it (Agrawal 2014).
# The stages run in the thesis' order: data -> pretrain -> finetune -> features -> analyses -> report.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
