# Selectivity (thesis §2-4): entropy of every filter of every layer (Table 2.1, Figs 2-1, 2-2),
# grandmother cells in pool5 (Figs 3-1, 3-2, 3-4, 3-5, Table 3.1), training dynamics (Fig 4-1).
# The thesis compares the ImageNet network (alexnet) with its VOC fine-tuned version (ft).

SELECTIVITY = config["selectivity"]
for _iteration in SELECTIVITY["fig4_1_snapshots"]:
    if _iteration != 0 and _iteration not in SNAPSHOTS:
        raise ValueError(
            f"config key selectivity.fig4_1_snapshots: {_iteration} is not 0 or one of "
            f"pretrain.snapshots {SNAPSHOTS}"
        )


wildcard_constraints:
    layer="|".join(FEATURE_LAYERS),


rule entropy:
    input:
        "results/features/{network}/voc07_test_gtboxes/{layer}.h5",
    output:
        "results/analysis/entropy/{network}/{layer}.csv",
    params:
        T=SELECTIVITY["thresholds"],
        memory_mb=SELECTIVITY["memory_mb"],
        code=code("analysis/selectivity.py"),
    log:
        "results/logs/entropy/{network}/{layer}.log",
    benchmark:
        "results/benchmarks/entropy/{network}/{layer}.tsv"
    resources:
        mem_mb=SELECTIVITY["memory_mb"] + 500,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/entropy.py"


rule table2_1:
    input:
        alexnet=expand("results/analysis/entropy/alexnet/{layer}.csv", layer=FEATURE_LAYERS),
        ft=expand("results/analysis/entropy/ft/{layer}.csv", layer=FEATURE_LAYERS),
    output:
        table=report_table("table2_1", "table2_1"),
        compare="results/tables/table2_1.compare.csv",
    params:
        layers=FEATURE_LAYERS,
        run=RUN_LABEL,
        code=code("analysis/selectivity.py", "tables.py", "reference.py"),
    log:
        "results/logs/tables/table2_1.log",
    benchmark:
        "results/benchmarks/tables/table2_1.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/table2_1.py"


rule entropy_figures:
    input:
        alexnet=expand("results/analysis/entropy/alexnet/{layer}.csv", layer=FEATURE_LAYERS),
        ft=expand("results/analysis/entropy/ft/{layer}.csv", layer=FEATURE_LAYERS),
    output:
        fig2_1=report_figure("fig2_1"),
        fig2_2=report_figure("fig2_2"),
    params:
        layers=FEATURE_LAYERS,
        run=RUN_LABEL,
        code=code("analysis/selectivity.py", "figures.py"),
    log:
        "results/logs/figures/entropy.log",
    benchmark:
        "results/benchmarks/figures/entropy.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/entropy_figures.py"


rule unit_figures:
    input:
        alexnet="results/features/alexnet/voc07_test_gtboxes/pool5.h5",
        ft="results/features/ft/voc07_test_gtboxes/pool5.h5",
    output:
        fig3_1=report_figure("fig3_1"),
        fig3_2=report_figure("fig3_2"),
    params:
        T=SELECTIVITY["thresholds"],
        top=SELECTIVITY["top_filters"],
        max_recall=SELECTIVITY["pr_max_recall"],
        memory_mb=SELECTIVITY["memory_mb"],
        run=RUN_LABEL,
        code=code(
            "analysis/units.py",
            "analysis/selectivity.py",
            "analysis/ap.py",
            "analysis/classification.py",
            "analysis/ablations.py",
            "figures.py",
        ),
    log:
        "results/logs/figures/units.log",
    benchmark:
        "results/benchmarks/figures/units.tsv"
    resources:
        mem_mb=SELECTIVITY["memory_mb"] + 1000,
        runtime=15,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/unit_figures.py"


rule filter_subsets:
    input:
        train="results/features/{network}/voc07_trainval_gtboxes/pool5.h5",
        test="results/features/{network}/voc07_test_gtboxes/pool5.h5",
    output:
        aps="results/analysis/units/{network}/subset_ap.csv",
        ranking="results/analysis/units/{network}/ranking.csv",
    params:
        ks=SELECTIVITY["subset_sizes"],
        C=config["classification"]["C"],
        feature_norm=config["classification"]["feature_norm"],
        memory_mb=SELECTIVITY["memory_mb"],
        seed=config["seed"],
        code=code(
            "analysis/units.py",
            "analysis/classification.py",
            "analysis/ablations.py",
            "analysis/ap.py",
        ),
    log:
        "results/logs/units/{network}/subsets.log",
    benchmark:
        "results/benchmarks/units/{network}/subsets.tsv"
    resources:
        mem_mb=SELECTIVITY["memory_mb"] + 1000,
        runtime=30,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/filter_subsets.py"


rule table3_1:
    input:
        alexnet="results/analysis/units/alexnet/subset_ap.csv",
        ft="results/analysis/units/ft/subset_ap.csv",
    output:
        table=report_table("table3_1", "table3_1"),
        compare="results/tables/table3_1.compare.csv",
    params:
        run=RUN_LABEL,
        code=code("analysis/units.py", "tables.py", "reference.py"),
    log:
        "results/logs/tables/table3_1.log",
    benchmark:
        "results/benchmarks/tables/table3_1.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/table3_1.py"


rule subset_figures:
    input:
        alexnet="results/analysis/units/alexnet/subset_ap.csv",
        ft="results/analysis/units/ft/subset_ap.csv",
        ft_ranking="results/analysis/units/ft/ranking.csv",
    output:
        fig3_4=report_figure("fig3_4"),
        fig3_5=report_figure("fig3_5"),
    params:
        top=SELECTIVITY["overlap_top"],
        run=RUN_LABEL,
        code=code("analysis/units.py", "figures.py"),
    log:
        "results/logs/figures/subsets.log",
    benchmark:
        "results/benchmarks/figures/subsets.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/subset_figures.py"


rule fig4_1:
    input:
        snapshots=[snapshot_path(i) for i in SELECTIVITY["fig4_1_snapshots"]],
        curve="results/logs/pretrain_curve.csv",
    output:
        report_figure("fig4_1"),
    params:
        iterations=SELECTIVITY["fig4_1_snapshots"],
        run=RUN_LABEL,
        code=code("figures.py", "training.py"),
    log:
        "results/logs/figures/fig4_1.log",
    benchmark:
        "results/benchmarks/figures/fig4_1.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/layerwise.yaml"
    script:
        "../workflow_scripts/fig4_1.py"
