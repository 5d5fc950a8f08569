# Visualising units (seed 002, Zeiler & Fergus 2014): the gt-box patches that activate chosen
# units of each layer most (their Fig. 2), and occlusion sensitivity maps (their Fig. 7).

VIS = config["visualisation"]
if VIS["network"] not in FEATURE_NETWORKS:
    raise ValueError(
        f"config key visualisation.network: {VIS['network']!r} is not a named network or "
        f"pre-<snapshot>; expected one of {FEATURE_NETWORKS}"
    )
if NETWORKS.get(VIS["occlusion"]["network"], {}).get("finetune", {}).get("task") != "voc_det":
    raise ValueError(
        f"config key visualisation.occlusion.network: {VIS['occlusion']['network']!r} is not "
        "a network fine-tuned with task voc_det (the occlusion map needs its 21-way head)"
    )


rule top9_patches:
    input:
        features=f"results/features/{VIS['network']}/voc07_test_gtboxes/{{layer}}.h5",
        patches="results/data/voc07_test_gtboxes.h5",
    output:
        report_figure("fig_top9_{layer}", "fig_top9"),
    params:
        network=VIS["network"],
        units=VIS["units"],
        run=RUN_LABEL,
        code=code("visualisation.py", "figures.py"),
    wildcard_constraints:
        layer="|".join(FEATURE_LAYERS),
    log:
        "results/logs/figures/fig_top9_{layer}.log",
    benchmark:
        "results/benchmarks/figures/fig_top9_{layer}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/top9_patches.py"


rule occlusion:
    input:
        model=f"results/models/{VIS['occlusion']['network']}.pt",
        patches="results/data/voc07_test_gtboxes.h5",
    output:
        report_figure("fig_occlusion"),
    params:
        network=VIS["occlusion"]["network"],
        occlusion=VIS["occlusion"],
        pixel_mean=config["data"]["pixel_mean"],
        run=RUN_LABEL,
        device=config["device"],
        torch_threads=config["threads"],  # the maps' last bits depend on the thread count
        code=code("visualisation.py", "figures.py", "models.py", "training.py"),
    log:
        "results/logs/figures/fig_occlusion.log",
    benchmark:
        "results/benchmarks/figures/fig_occlusion.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/occlusion.py"
