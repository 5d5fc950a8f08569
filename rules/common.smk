# Validation first (SPEC §4.2, §15): a bad config stops the run before any job.
import layerwise.config as lwconfig

lwconfig.validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))
lwconfig.check_real_roots(config)

ROOTS = lwconfig.dataset_roots(config)
SPLITS = ["trainval", "test"]


wildcard_constraints:
    split="trainval|test",
    shard=r"\d+",
    part="train|val|test",


def stored_size(wildcards=None):
    """Side of the stored square images that training crops come from (Caffe: 256 for 227)."""
    return int(round(config["model"]["input_size"] * 256 / 227))


def code(*modules):
    """Hash of the library modules a rule runs (SPEC §13): editing them re-runs the rule."""
    return lwconfig.code_hash(*(workflow.source_path(f"../layerwise/{m}") for m in modules))


def dataset_input(wildcards=None):
    """The generated demo world when the config uses it; real roots are not workflow outputs."""
    return [lwconfig.DEMO_ROOT] if config["data"]["source"] == "demo" else []


def proposal_shards(wildcards):
    n = config["data"]["proposals"]["shards"]
    return [f"results/data/proposals/voc07_{wildcards.split}_{k}.h5" for k in range(n)]


def data_targets():
    return (
        expand("results/data/voc07_{split}_{kind}.csv", split=SPLITS, kind=["index", "labels"])
        + expand(
            "results/data/voc07_{split}_{kind}.h5",
            split=SPLITS,
            kind=["gtboxes", "patchset", "proposals"],
        )
        + ["results/data/sun_split.csv", "results/data/imagenet_index.csv"]
        + expand("results/data/imagenet_{part}_images.h5", part=["train", "val"])
        + expand("results/data/sun_{part}_images.h5", part=["train", "val", "test"])
    )


def all_targets():
    return data_targets()
