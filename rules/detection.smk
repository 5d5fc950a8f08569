# R-CNN detection per layer (thesis §1.2, Tables 2.2, 2.3, 4.2, 5.2; SPEC §9): pool5 of every
# region cached once per network, SVMs with hard-negative mining per (network, feature), VOC AP.

DETECTION = config["detection"]
# Features a detector can use: a cached layer, or pool5 under an ablation of thesis §5.
DETECTION_FEATURES = ["pool5", "fc6", "fc7"] + [f"pool5-{a}" for a in ABLATIONS if a != "unroll"]
DETECTION_ROW_NET = {"alexnet": "", "ft": "-ft", "fcft": "-fc-ft"}

# Detection tables, row by row: {table: {row label: (network, feature)}}. Table 2.3 labels rows
# as the thesis does (15 = layer 5 of Alex-Net, 16-fc-ft = layer 6 of FC-FT, ...); the thesis
# prints 7 of these 9 rows (not 16 and 15-fc-ft). Table 4.2 adds the 100-50 rows.
DETECTION_TABLES = {
    "table2_3": {
        f"1{layer[-1]}{suffix}": (net, layer)
        for layer in ["pool5", "fc6", "fc7"]
        for net, suffix in DETECTION_ROW_NET.items()
    },
    "table4_2": {
        f"{n}({label})": (net, layer)
        for n, layer in [("15", "pool5"), ("17", "fc7")]
        for label, net in [("50-50", "ft-50-50"), ("100-50", "ft-100-50"), ("full", "ft")]
    },
    "table5_2": {
        "sp-max": ("ft", "pool5-sp-max"),
        "bin": ("ft", "pool5-bin"),
        "pool-5": ("ft", "pool5"),
    },
}
# Table 2.2: fc7 detection of Alex-Net, FT and FC-FT; SUN accuracy of Alex-Net and the SUN
# fine-tuned FT and FC-FT.
TABLE2_2_DETECTION = {
    "detection(mAP) alex-net": "alexnet",
    "detection(mAP) ft-net": "ft",
    "detection(mAP) fc-ft": "fcft",
}
TABLE2_2_SUN = {
    "sun-397 (accuracy) alex-net": "alexnet",
    "sun-397 (accuracy) ft-net": "ft-sun",
    "sun-397 (accuracy) fc-ft": "fcft-sun",
}


wildcard_constraints:
    feature="|".join(map(re.escape, DETECTION_FEATURES)),


rule proposal_pool5:
    input:
        dataset_input,
        checkpoint=feature_checkpoint,
        index="results/data/voc07_{split}_index.csv",
        proposals="results/data/voc07_{split}_proposals.h5",
    output:
        "results/features/{network}/voc07_{split}_proposals/pool5_{shard}.h5",
    params:
        network=lambda wc: feature_network(wc.network),
        shards=DETECTION["shards"],
        batch_size=DETECTION["batch_size"],
        voc_root=ROOTS["voc"],
        context_pad=config["data"]["context_pad"],
        pixel_mean=config["data"]["pixel_mean"],
        features=FEATURES,
        device=config["device"],
        torch_threads=config["threads"],
        code=code("detection/cache.py", "features.py", "models.py", "data/warp.py"),
    log:
        "results/logs/detection/pool5/{network}/voc07_{split}_{shard}.log",
    benchmark:
        "results/benchmarks/detection/pool5/{network}/voc07_{split}_{shard}.tsv"
    threads: config["threads"]
    priority: 3
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=gpus_per_job(),
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/proposal_pool5.py"


rule detect:
    input:
        unpack(detection_inputs),
    output:
        detections="results/detection/{network}/{feature}/test_detections.csv",
        ap=detection_ap("{network}", "{feature}"),
        svm_log="results/detection/{network}/{feature}/svm_log.csv",
    params:
        svm=DETECTION["svm"],
        test=DETECTION["test"],
        seed=config["seed"],
        torch_threads=1,
        code=code(
            "detection/svm.py",
            "detection/evaluate.py",
            "detection/boxes.py",
            "detection/cache.py",
            "analysis/ablations.py",
            "analysis/ap.py",
            "models.py",
        ),
    log:
        "results/logs/detection/{network}/{feature}.log",
    benchmark:
        "results/benchmarks/detection/{network}/{feature}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/detect.py"


rule sun_accuracy:
    input:
        train="results/features/{network}/sun_train/fc7.h5",
        test="results/features/{network}/sun_test/fc7.h5",
        # The val split is read only to pick C, so only a sweep of C dumps it.
        val=lambda wc: (
            f"results/features/{wc.network}/sun_val/fc7.h5"
            if config["classification"]["C_sweep"]
            else []
        ),
    output:
        "results/analysis/sun_accuracy/{network}.csv",
    params:
        layer="fc7",
        svm=config["classification"],  # the protocol of every other classification SVM
        seed=config["seed"],
        code=code("analysis/scene_accuracy.py", "analysis/classification.py"),
    log:
        "results/logs/sun_accuracy/{network}.log",
    benchmark:
        "results/benchmarks/sun_accuracy/{network}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/sun_accuracy.py"


rule detection_table:
    input:
        lambda wc: [detection_ap(*cell) for cell in DETECTION_TABLES[wc.table].values()],
    output:
        table=report_table("{table}", "detection_table"),
        compare="results/tables/{table}.compare.csv",
    params:
        rows=lambda wc: list(DETECTION_TABLES[wc.table]),
        run=RUN_LABEL,
        code=code("tables.py", "reference.py"),
    wildcard_constraints:
        table="|".join(DETECTION_TABLES),
    log:
        "results/logs/tables/{table}.log",
    benchmark:
        "results/benchmarks/tables/{table}.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/detection_table.py"


rule table2_2:
    input:
        detection=[detection_ap(net, "fc7") for net in TABLE2_2_DETECTION.values()],
        sun=[f"results/analysis/sun_accuracy/{net}.csv" for net in TABLE2_2_SUN.values()],
    output:
        table=report_table("table2_2", "table2_2"),
        compare="results/tables/table2_2.compare.csv",
    params:
        detection_columns=list(TABLE2_2_DETECTION),
        sun_columns=list(TABLE2_2_SUN),
        run=RUN_LABEL,
        code=code("tables.py", "reference.py"),
    log:
        "results/logs/tables/table2_2.log",
    benchmark:
        "results/benchmarks/tables/table2_2.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/table2_2.py"
