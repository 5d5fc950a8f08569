# Activation dumps (SPEC §8): one forward pass per (network, dataset) writes all seven layers.

# layerwise.models.TAPS, spelled out here because the Snakefile imports no torch.
FEATURE_LAYERS = ["pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7"]
FEATURE_NETWORKS = list(NETWORKS) + [f"pre-{i}" for i in [0] + SNAPSHOTS]
FEATURES = config["features"]


wildcard_constraints:
    network="|".join(map(re.escape, FEATURE_NETWORKS)),
    dataset="voc07_(trainval|test)_(images|gtboxes)|sun_(train|val|test)",


rule pack_voc_images:
    input:
        dataset_input,
        labels="results/data/voc07_{split}_labels.csv",
    output:
        "results/data/voc07_{split}_images.h5",
    params:
        voc_root=ROOTS["voc"],
        size=config["model"]["input_size"],
        code=code("data/images.py", "data/voc.py"),
    log:
        "results/logs/data/voc07_{split}_images.log",
    benchmark:
        "results/benchmarks/data/voc07_{split}_images.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pack_voc_images.py"


rule dump_features:
    input:
        unpack(feature_inputs),
    output:
        expand(
            "results/features/{{network}}/{{dataset}}/{layer}.h5",
            layer=FEATURE_LAYERS,
        ),
    params:
        network=lambda wc: feature_network(wc.network),
        pixel_mean=config["data"]["pixel_mean"],
        features=FEATURES,
        device=config["device"],
        torch_threads=config["threads"],  # activations' last bits depend on the thread count
        code=code("features.py", "models.py"),
    log:
        "results/logs/features/{network}/{dataset}.log",
    benchmark:
        "results/benchmarks/features/{network}/{dataset}.tsv"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/dump_features.py"
