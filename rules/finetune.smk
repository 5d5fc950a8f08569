# Fine-tuning of the named networks (SPEC §7): FT, FC-FT, 50-50, ... for VOC detection and SUN.


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model="results/models/{net}.pt",
        curve="results/logs/finetune/{net}.csv",
    params:
        spec=lambda wc: NETWORKS[wc.net]["finetune"],
        task=lambda wc: config["finetune"][NETWORKS[wc.net]["finetune"]["task"]],
        solver={k: config["finetune"][k] for k in ("momentum", "weight_decay", "log_every")},
        checkpoint_every=config["finetune"]["checkpoint_every"],
        voc_root=ROOTS["voc"],
        context_pad=config["data"]["context_pad"],
        stored_size=stored_size(),  # windows are warped this large when crop is on
        pixel_mean=config["data"]["pixel_mean"],
        include_difficult=config["data"]["include_difficult"],
        seed=config["seed"],
        device=config["device"],
        cuda=config["cuda"],
        # Results depend on the thread count (CPU reductions split by thread), so it comes from
        # the config, not from how many cores the scheduler grants.
        torch_threads=config["threads"],
        code=code("models.py", "training.py", "data/regions.py", "data/warp.py"),
    log:
        "results/logs/finetune/{net}.log",
    benchmark:
        "results/benchmarks/finetune/{net}.tsv"
    threads: config["threads"]
    priority: 5
    resources:
        mem_mb=4000,
        runtime=600,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/finetune.py"
