# Classification analyses (thesis §1.2, §2.4, §4, §5): linear SVMs per class on one layer's
# activations, then Tables 4.1 (snapshots), 5.1 (ablations) and 2.4 (gt boxes).

ABLATIONS = ["unroll", "sp-shuffle", "sp-max", "sp-max-bin", "bin"]


wildcard_constraints:
    kind="images|gtboxes",
    ablation="|".join(map(re.escape, ABLATIONS)),


# Per-layer tables, column by column: {column label: (network, kind, ablation)}.
TABLE_CELLS = {
    "table4_1": {
        lwconfig.iteration_label(i): (f"pre-{i}", "images", "unroll") for i in [0] + SNAPSHOTS
    },
    "table5_1": {a: ("alexnet", "images", a) for a in ABLATIONS},
    "table2_4": {
        "A-Net": ("alexnet", "gtboxes", "unroll"),
        "FT": ("ft", "gtboxes", "unroll"),
        "FC-FT": ("fcft", "gtboxes", "unroll"),
    },
}


rule classify:
    input:
        train=lambda wc: layer_features(wc.network, f"voc07_trainval_{wc.kind}"),
        test=lambda wc: layer_features(wc.network, f"voc07_test_{wc.kind}"),
    output:
        classification_result("{network}", "{kind}", "{ablation}"),
    params:
        layers=FEATURE_LAYERS,
        svm=config["classification"],
        seed=config["seed"],
        code=code("analysis/classification.py", "analysis/ablations.py", "analysis/ap.py"),
    log:
        "results/logs/classification/{network}/{kind}/{ablation}.log",
    benchmark:
        "results/benchmarks/classification/{network}/{kind}/{ablation}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/classify.py"


rule per_layer_table:
    input:
        lambda wc: [classification_result(*cell) for cell in TABLE_CELLS[wc.table].values()],
    output:
        table=report_table("{table}", "per_layer_table"),
        compare="results/tables/{table}.compare.csv",
    params:
        columns=lambda wc: list(TABLE_CELLS[wc.table]),
        # Table 4.1: the last demo snapshot stands beside the thesis' final network (310K).
        column_map=lambda wc: (
            {lwconfig.iteration_label(SNAPSHOTS[-1]): "310K"} if wc.table == "table4_1" else {}
        ),
        run=RUN_LABEL,
        code=code("tables.py", "reference.py"),
    wildcard_constraints:
        table="|".join(TABLE_CELLS),
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
        "../workflow_scripts/per_layer_table.py"


rule raw_pixel_baseline:
    input:
        train="results/data/voc07_trainval_images.h5",
        test="results/data/voc07_test_images.h5",
    output:
        report_table("raw_pixels", "raw_pixels"),
    params:
        side=32,
        svm=config["classification"],  # the same protocol as every layer's features
        seed=config["seed"],
        run=RUN_LABEL,
        code=code("analysis/baseline.py", "analysis/classification.py", "analysis/ap.py"),
    log:
        "results/logs/classification/raw_pixels.log",
    benchmark:
        "results/benchmarks/classification/raw_pixels.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/raw_pixel_baseline.py"
