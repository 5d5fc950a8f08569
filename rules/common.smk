# Validation first (SPEC §4.2, §15): a bad config stops the run before any job.
import re

import layerwise.config as lwconfig

lwconfig.validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))
lwconfig.check_real_roots(config)

ROOTS = lwconfig.dataset_roots(config)
SPLITS = ["trainval", "test"]
SNAPSHOTS = sorted(config["pretrain"]["snapshots"])
NETWORKS = config["networks"]
FINETUNED = [n for n, spec in NETWORKS.items() if "finetune" in spec]
# Demo-world numbers are labelled as such wherever they meet the thesis' (SPEC §10).
RUN_LABEL = "demo" if config["data"]["source"] == "demo" else "paper"
# Report categories (SPEC §12): the thesis' chapters, then the experiments of the other seeds.
CHAPTERS = {
    1: "1 Setup: data and networks",
    2: "2 What happens during fine-tuning?",
    3: "3 Are there grandmother cells?",
    4: "4 How do the layers train over time?",
    5: "5 Location or magnitude of activation?",
    "seeds": "6 Experiments of the other seeds",
}


wildcard_constraints:
    split="trainval|test",
    shard=r"\d+",
    part="train|val|test",
    iter="|".join(map(str, SNAPSHOTS)),
    net="|".join(map(re.escape, FINETUNED)) or "(?!)",


def stored_size(wildcards=None):
    """Side of the stored square images that training crops come from (Caffe: 256 for 227)."""
    return int(round(config["model"]["input_size"] * 256 / 227))


def code(*modules):
    """Hash of the library modules a job executes (SPEC §13): editing them re-runs its jobs."""
    return lwconfig.code_hash(*modules)


def chapter(item):
    """Report category of an output named like table4_1 or fig3_2: its thesis chapter. The demo
    world's raw-pixel gauge goes with the setup, the other seeds' items after the thesis'."""
    if item == "raw_pixels":
        return CHAPTERS[1]
    thesis = re.fullmatch(r"(table|fig)(\d)_\d+", item)
    return CHAPTERS[int(thesis.group(2))] if thesis else CHAPTERS["seeds"]


def report_table(name, caption):
    """results/tables/<name>.csv in the report (SPEC §12), its caption report/<caption>.rst;
    `name` may hold wildcards."""
    return report(
        f"results/tables/{name}.csv",
        caption=f"../report/{caption}.rst",
        category=lambda wildcards: chapter(name.format(**wildcards)),
    )


def report_figure(name, caption=None):
    """The PNG and PDF of a figure as layerwise.figures.save_figure writes them; the PNG goes in
    the report (SPEC §12), its caption report/<caption or name>.rst. `name` may hold wildcards."""
    png = report(
        f"results/figures/{name}.png",
        caption=f"../report/{caption or name}.rst",
        category=lambda wildcards: chapter(name.format(**wildcards)),
    )
    return [png, f"results/figures/{name}.pdf"]


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


def gpus_per_job():
    """GPU rules ask for one GPU unless the config pins them to the CPU (SPEC §13)."""
    return 0 if config["device"] == "cpu" else 1


def snapshot_path(iteration):
    return f"results/models/pretrain/iter_{iteration}.pt"


def previous_iteration(iteration):
    """The snapshot a pretraining segment starts from: the kept one before it, or 0."""
    return max([0] + [s for s in SNAPSHOTS if s < iteration])


def previous_snapshot(wildcards):
    return snapshot_path(previous_iteration(int(wildcards.iter)))


def finetune_inputs(wildcards):
    spec = NETWORKS[wildcards.net]
    inputs = {"base": snapshot_path(spec["snapshot"])}
    if spec["finetune"]["task"] == "voc_det":
        inputs["index"] = "results/data/voc07_trainval_index.csv"
        inputs["proposals"] = "results/data/voc07_trainval_proposals.h5"
        inputs["dataset"] = dataset_input()
    else:
        inputs["train"] = "results/data/sun_train_images.h5"
    return inputs


# Inputs of the activation dumps (features.smk) and the classification analyses
# (classification.smk): functions live here, rule files hold rules (`snakemake --lint`).
def feature_network(name):
    """A feature network's config entry: a named network, or pre-N for pretraining snapshot N."""
    if name in NETWORKS:
        return NETWORKS[name]
    return {"snapshot": int(name[len("pre-") :])}


def feature_checkpoint(wildcards):
    """The weights a feature dump runs: fine-tuned networks their own, the others a snapshot."""
    spec = feature_network(wildcards.network)
    if "finetune" in spec:
        return f"results/models/{wildcards.network}.pt"
    return snapshot_path(spec["snapshot"])


def feature_inputs(wildcards):
    """The dump's checkpoint and images (SPEC §8 datasets)."""
    inputs = {"checkpoint": feature_checkpoint(wildcards)}
    kind, _, rest = wildcards.dataset.partition("_")
    if kind == "sun":
        inputs["images"] = f"results/data/sun_{rest}_images.h5"
        inputs["split"] = "results/data/sun_split.csv"
    elif rest.endswith("_gtboxes"):
        inputs["patches"] = f"results/data/{wildcards.dataset}.h5"
    else:
        split = rest[: -len("_images")]
        inputs["images"] = f"results/data/voc07_{split}_images.h5"
        inputs["labels"] = f"results/data/voc07_{split}_labels.csv"
    return inputs


def classification_result(network, kind, ablation="unroll"):
    return f"results/analysis/classification/{network}/{kind}/{ablation}.csv"


def layer_features(network, dataset):
    return [f"results/features/{network}/{dataset}/{layer}.h5" for layer in FEATURE_LAYERS]


# Inputs of the detection rules (detection.smk).
def pool5_network(name):
    """The network whose pool5 cache `name` reads. FC-FT (train: fc or from:fc6..8) leaves the
    convolutional trunk as its snapshot's, bit for bit (tests/test_workflow_detection.py), so
    it reads the cache of the network that is that snapshot unchanged (or of pre-N)."""
    spec = feature_network(name)
    train = spec.get("finetune", {}).get("train", "fc")
    if not (train == "fc" or train.startswith("from:fc")):
        return name
    plain = [
        n for n, s in NETWORKS.items() if "finetune" not in s and s["snapshot"] == spec["snapshot"]
    ]
    return plain[0] if plain else f"pre-{spec['snapshot']}"


def pool5_cache(network, split):
    n = DETECTION["shards"]
    return [f"results/features/{network}/voc07_{split}_proposals/pool5_{k}.h5" for k in range(n)]


def detection_inputs(wildcards):
    trunk = pool5_network(wildcards.network)
    inputs = {
        "train": pool5_cache(trunk, "trainval"),
        "test": pool5_cache(trunk, "test"),
        "index": "results/data/voc07_test_index.csv",
    }
    if not wildcards.feature.startswith("pool5"):  # fc6 / fc7 run this network's fc layers
        inputs["checkpoint"] = feature_checkpoint(wildcards)
    return inputs


def detection_ap(network, feature):
    return f"results/detection/{network}/{feature}/ap.csv"


def model_targets():
    return (
        expand(snapshot_path("{i}"), i=[0] + SNAPSHOTS)
        + ["results/logs/pretrain_curve.csv"]
        + expand("results/models/{net}.pt", net=FINETUNED)
    )


def table_targets():
    tables = ["table4_1", "table5_1", "table2_4", "raw_pixels"]
    return expand("results/tables/{table}.csv", table=tables)


def detection_targets():
    tables = ["table2_2", "table2_3", "table4_2", "table5_2"]
    return expand("results/tables/{table}.csv", table=tables)


def visualisation_targets():
    layers = config["visualisation"]["layers"]
    return expand("results/figures/fig_top9_{layer}.png", layer=layers) + [
        "results/figures/fig_occlusion.png"
    ]


def selectivity_targets():
    """Entropy CSVs, Tables 2.1 and 3.1 and the figures of thesis chapters 2-4 (selectivity.smk)."""
    figures = ["fig2_1", "fig2_2", "fig3_1", "fig3_2", "fig3_4", "fig3_5", "fig4_1"]
    return (
        expand(
            "results/analysis/entropy/{net}/{layer}.csv",
            net=["alexnet", "ft"],
            layer=FEATURE_LAYERS,
        )
        + expand("results/tables/{table}.csv", table=["table2_1", "table3_1"])
        + expand("results/figures/{fig}.{ext}", fig=figures, ext=["png", "pdf"])
    )


def experiment_targets():
    return [
        "results/tables/table_patch.csv",
        "results/figures/fig_patch_pr.png",
        "results/figures/fig_patch_time.png",
        "results/tables/table_cache.csv",
    ]


def all_targets():
    return (
        data_targets()
        + model_targets()
        + table_targets()
        + visualisation_targets()
        + detection_targets()
        + selectivity_targets()
        + experiment_targets()
    )
