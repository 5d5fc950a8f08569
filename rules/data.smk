# Data stage (SPEC §4): the demo world, then the indices and caches every later stage reads.


rule demo_world:
    output:
        directory(lwconfig.DEMO_ROOT),
    params:
        demo=config["data"]["demo"],
        code=code("data/demo_world.py", "data/primitives.py"),
    log:
        "results/logs/data/demo_world.log",
    benchmark:
        "results/benchmarks/data/demo_world.tsv"
    threads: config["data"]["demo"]["workers"]
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/make_demo_world.py"


rule voc_index:
    input:
        dataset_input,
    output:
        index="results/data/voc07_{split}_index.csv",
        labels="results/data/voc07_{split}_labels.csv",
    params:
        voc_root=ROOTS["voc"],
        on_bad_file=config["data"]["on_bad_file"],
        code=code("data/voc.py", "data/images.py"),
    log:
        "results/logs/data/voc07_{split}_index.log",
    benchmark:
        "results/benchmarks/data/voc07_{split}_index.tsv"
    resources:
        mem_mb=1000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/voc_index.py"


rule gtbox_patches:
    input:
        dataset_input,
        index="results/data/voc07_{split}_index.csv",
    output:
        "results/data/voc07_{split}_gtboxes.h5",
    params:
        voc_root=ROOTS["voc"],
        size=config["model"]["input_size"],
        context_pad=config["data"]["context_pad"],
        pixel_mean=config["data"]["pixel_mean"],
        include_difficult=config["data"]["include_difficult"],
        code=code("data/patches.py", "data/warp.py", "data/images.py"),
    log:
        "results/logs/data/voc07_{split}_gtboxes.log",
    benchmark:
        "results/benchmarks/data/voc07_{split}_gtboxes.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/gtbox_patches.py"


rule patchset:
    input:
        dataset_input,
        index="results/data/voc07_{split}_index.csv",
    output:
        "results/data/voc07_{split}_patchset.h5",
    params:
        voc_root=ROOTS["voc"],
        size=config["model"]["input_size"],
        min_size=config["data"]["patchset_min_size"],
        code=code("data/patches.py", "data/warp.py", "data/images.py"),
    log:
        "results/logs/data/voc07_{split}_patchset.log",
    benchmark:
        "results/benchmarks/data/voc07_{split}_patchset.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/patchset.py"


rule proposals_shard:
    input:
        dataset_input,
        labels="results/data/voc07_{split}_labels.csv",
    output:
        temp("results/data/proposals/voc07_{split}_{shard}.h5"),
    params:
        voc_root=ROOTS["voc"],
        shards=config["data"]["proposals"]["shards"],
        max_per_image=config["data"]["proposals"]["max_per_image"],
        min_size=config["data"]["proposals"]["min_size"],
        strategy=config["data"]["proposals"]["strategy"],
        seed=config["seed"],
        code=code("data/proposals.py", "data/images.py"),
    log:
        "results/logs/data/proposals/voc07_{split}_{shard}.log",
    benchmark:
        "results/benchmarks/data/proposals/voc07_{split}_{shard}.tsv"
    resources:
        mem_mb=1000,
        runtime=240,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/proposals_shard.py"


rule proposals:
    input:
        proposal_shards,
    output:
        "results/data/voc07_{split}_proposals.h5",
    params:
        code=code("data/proposals.py"),
    log:
        "results/logs/data/voc07_{split}_proposals.log",
    benchmark:
        "results/benchmarks/data/voc07_{split}_proposals.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/merge_proposals.py"


rule sun_split:
    input:
        dataset_input,
    output:
        "results/data/sun_split.csv",
    params:
        sun_root=ROOTS["sun"],
        fractions=config["data"]["sun_split"],
        seed=config["seed"],
        on_bad_file=config["data"]["on_bad_file"],
        code=code("data/scenes.py", "data/images.py"),
    log:
        "results/logs/data/sun_split.log",
    benchmark:
        "results/benchmarks/data/sun_split.tsv"
    resources:
        mem_mb=1000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/sun_split.py"


rule imagenet_index:
    input:
        dataset_input,
    output:
        "results/data/imagenet_index.csv",
    params:
        imagenet_root=ROOTS["imagenet"],
        code=code("data/imagenet.py"),
    log:
        "results/logs/data/imagenet_index.log",
    benchmark:
        "results/benchmarks/data/imagenet_index.tsv"
    priority: 10  # leads to the pretraining chain, the critical path: before proposals
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/imagenet_index.py"


rule pack_imagenet:
    input:
        dataset_input,
        index="results/data/imagenet_index.csv",
    output:
        "results/data/imagenet_{part}_images.h5",
    params:
        root=ROOTS["imagenet"],
        key="data.imagenet_root",
        size=stored_size,
        code=code("data/images.py"),
    log:
        "results/logs/data/imagenet_{part}_images.log",
    benchmark:
        "results/benchmarks/data/imagenet_{part}_images.tsv"
    priority: 10  # leads to the pretraining chain, the critical path: before proposals
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pack_images.py"


rule pack_sun:
    input:
        dataset_input,
        index="results/data/sun_split.csv",
    output:
        "results/data/sun_{part}_images.h5",
    params:
        root=ROOTS["sun"],
        key="data.sun_root",
        size=stored_size,
        code=code("data/images.py"),
    log:
        "results/logs/data/sun_{part}_images.log",
    benchmark:
        "results/benchmarks/data/sun_{part}_images.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/pack_images.py"
