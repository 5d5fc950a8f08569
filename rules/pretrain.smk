# Pretraining (SPEC §6): a chain of segment jobs, each continuing from the previous snapshot.


rule pretrain_init:
    input:
        train="results/data/imagenet_train_images.h5",
        val="results/data/imagenet_val_images.h5",
    output:
        model="results/models/pretrain/iter_0.pt",
        curve="results/logs/pretrain/segment_0.csv",
    params:
        model=config["model"],
        seed=config["seed"],
        pixel_mean=config["data"]["pixel_mean"],
        device=config["device"],
        # Results depend on the thread count (CPU reductions split by thread), so it comes from
        # the config, not from how many cores the scheduler grants.
        torch_threads=config["threads"],
        code=code("models.py", "training.py"),
    log:
        "results/logs/pretrain/iter_0.log",
    benchmark:
        "results/benchmarks/pretrain/iter_0.tsv"
    threads: config["threads"]
    priority: 10  # the pretraining chain is the critical path: start it first
    resources:
        mem_mb=4000,
        runtime=10,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pretrain_init.py"


rule pretrain_segment:
    input:
        previous=previous_snapshot,
        train="results/data/imagenet_train_images.h5",
        val="results/data/imagenet_val_images.h5",
    output:
        model="results/models/pretrain/iter_{iter}.pt",
        curve="results/logs/pretrain/segment_{iter}.csv",
    params:
        start=lambda wc: previous_iteration(int(wc.iter)),
        # The snapshot list only says which segments exist: adding one re-runs no other segment.
        pretrain={k: v for k, v in config["pretrain"].items() if k != "snapshots"},
        seed=config["seed"],
        pixel_mean=config["data"]["pixel_mean"],
        device=config["device"],
        cuda=config["cuda"],
        # Results depend on the thread count (CPU reductions split by thread), so it comes from
        # the config, not from how many cores the scheduler grants.
        torch_threads=config["threads"],
        code=code("models.py", "training.py"),
    log:
        "results/logs/pretrain/iter_{iter}.log",
    benchmark:
        "results/benchmarks/pretrain/iter_{iter}.tsv"
    threads: config["threads"]
    priority: 10  # the pretraining chain is the critical path: start it first
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pretrain_segment.py"


rule pretrain_curve:
    input:
        expand("results/logs/pretrain/segment_{iter}.csv", iter=[0] + SNAPSHOTS),
    output:
        "results/logs/pretrain_curve.csv",
    log:
        "results/logs/pretrain/curve.log",
    benchmark:
        "results/benchmarks/pretrain/curve.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pretrain_curve.py"
