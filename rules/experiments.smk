# Experiments of the other seeds that train networks of their own (SPEC §11): patch
# pre-training (seed 000) and feature-map similarity caching (seed 003).

PATCH = config["experiments"]["patch_pretraining"]
CACHE = config["experiments"]["similarity_cache"]
if max(PATCH["switch_epochs"]) > PATCH["epochs"]:
    raise ValueError(
        "config key experiments.patch_pretraining.switch_epochs: "
        f"{max(PATCH['switch_epochs'])} is more than epochs ({PATCH['epochs']})"
    )
if PATCH["init"] == "pretrained" and "alexnet" not in NETWORKS:
    raise ValueError(
        "config key experiments.patch_pretraining.init: pretrained starts from the snapshot "
        "of networks.alexnet, which the config does not define"
    )


wildcard_constraints:
    switch=r"\d+",
    training="normal|caching",


rule patch_pretraining:
    input:
        # The alexnet network's pretraining snapshot, only under init pretrained: a scratch
        # sweep does not wait for pretraining.
        unpack(
            lambda wc: (
                {"snapshot": snapshot_path(NETWORKS["alexnet"]["snapshot"])}
                if PATCH["init"] == "pretrained"
                else {}
            )
        ),
        patches="results/data/voc07_trainval_patchset.h5",
        train="results/data/voc07_trainval_images.h5",
        test="results/data/voc07_test_images.h5",
    output:
        "results/experiments/patch_pretraining/switch_{switch}.csv",
    params:
        # Not the sweep list: adding a switch_epoch to it runs only the new job.
        experiment={k: v for k, v in PATCH.items() if k != "switch_epochs"},
        model=config["model"],
        # The new image head of init pretrained is drawn as a fine-tuned network's fc8.
        head_init_std=config["finetune"]["voc_det"]["head_init_std"],
        seed=config["seed"],
        pixel_mean=config["data"]["pixel_mean"],
        device=config["device"],
        # Results depend on the thread count (CPU reductions split by thread), so it comes from
        # the config, not from how many cores the scheduler grants.
        torch_threads=config["threads"],
        code=code(
            "experiments/__init__.py",
            "experiments/patch_pretraining.py",
            "models.py",
            "training.py",
        ),
    log:
        "results/logs/experiments/patch_pretraining/switch_{switch}.log",
    benchmark:
        "results/benchmarks/experiments/patch_pretraining/switch_{switch}.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/patch_pretraining.py"


rule table_patch:
    input:
        expand(
            "results/experiments/patch_pretraining/switch_{switch}.csv",
            switch=sorted(PATCH["switch_epochs"]),
        ),
    output:
        report_table("table_patch", "table_patch"),
    log:
        "results/logs/tables/table_patch.log",
    benchmark:
        "results/benchmarks/tables/table_patch.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/concat_rows.py"


rule fig_patch:
    input:
        "results/tables/table_patch.csv",
    output:
        pr=report_figure("fig_patch_pr"),
        time=report_figure("fig_patch_time"),
    params:
        model=config["model"],
        run=RUN_LABEL,
        code=code("experiments/patch_pretraining.py", "figures.py"),
    log:
        "results/logs/figures/fig_patch.log",
    benchmark:
        "results/benchmarks/figures/fig_patch.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/fig_patch.py"


rule similarity_cache:
    input:
        train="results/data/imagenet_train_images.h5",
        val="results/data/imagenet_val_images.h5",
    output:
        "results/experiments/similarity_cache/{training}.csv",
    params:
        experiment=CACHE,
        model=config["model"],
        seed=config["seed"],
        pixel_mean=config["data"]["pixel_mean"],
        device=config["device"],
        torch_threads=config["threads"],  # see rule patch_pretraining
        code=code(
            "experiments/__init__.py",
            "experiments/similarity_cache.py",
            "models.py",
            "training.py",
        ),
    log:
        "results/logs/experiments/similarity_cache/{training}.log",
    benchmark:
        "results/benchmarks/experiments/similarity_cache/{training}.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/similarity_cache.py"


rule table_cache:
    input:
        expand(
            "results/experiments/similarity_cache/{training}.csv", training=["normal", "caching"]
        ),
    output:
        report_table("table_cache", "table_cache"),
    log:
        "results/logs/tables/table_cache.log",
    benchmark:
        "results/benchmarks/tables/table_cache.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/concat_rows.py"
