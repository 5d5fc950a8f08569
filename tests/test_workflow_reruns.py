"""Exact incremental reruns (SPEC §13, §16; issue 7): after a complete smoke run, a dry run with a
changed config value or an edited library module plans exactly the jobs that depend on it.

Each test copies the shared `smoke_run` folder (modification times kept, so the copy is up to
date), layers a small config file over configs/smoke.yaml, and compares the planned jobs, rule by
rule and output by output, with the hand-derived set.
"""

import os
import shutil

import pytest
import yaml
from conftest import SMOKE_TARGETS
from workflow import snakemake

# The outputs these tests plan for: the data stage, pretraining, the fine-tuned networks and
# Tables 4.1, 5.1 and 2.4 (a fixed list, so that targets other stages add do not change the plans).
TARGETS = [
    "results/data/voc07_test_gtboxes.h5", "results/data/voc07_test_proposals.h5",
    "results/data/sun_split.csv", "results/data/imagenet_index.csv",
    "results/models/ft.pt", "results/models/fcft.pt", "results/models/ft-50-50.pt",
    "results/models/ft-sun.pt", "results/logs/pretrain_curve.csv",
    "results/tables/table4_1.csv", "results/tables/table5_1.csv", "results/tables/table2_4.csv",
]
SNAPSHOTS = [0, 10, 20, 40]  # configs/smoke.yaml, with iter_0 the initialisation
ABLATIONS = ["unroll", "sp-shuffle", "sp-max", "sp-max-bin", "bin"]


def classify(network, kind, ablation="unroll"):
    return f"results/analysis/classification/{network}/{kind}/{ablation}.csv"


def tables(*names):
    return {f"results/tables/{name}.csv" for name in names}


def dumps(network, *datasets):
    layers = ["pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7"]
    return {f"results/features/{network}/{d}/{layer}.h5" for d in datasets for layer in layers}


def planned(workdir, override=None):
    """{rule: set of its planned outputs} of a dry run, with `override` layered over smoke.yaml."""
    configfiles = ["configs/smoke.yaml"]
    if override is not None:
        (workdir / "override.yaml").write_text(yaml.safe_dump(override))
        configfiles.append("override.yaml")
    code, out = snakemake(workdir, "-n", *TARGETS, "--configfile", *configfiles)
    assert code == 0, out[-3000:]
    jobs, rule = {}, None
    for line in out.splitlines():
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("    output: ") and rule is not None:
            jobs.setdefault(rule, set()).update(line[len("    output: "):].split(", "))
            rule = None
    assert bool(jobs) != ("Nothing to be done" in out), out[-3000:]
    return jobs


@pytest.fixture
def built(smoke_run, tmp_path):
    """The complete smoke run's folder with hard-linked files (same modification times; dry runs
    write none of them), and a private copy of the library, so that a test can edit a module
    (`python -m snakemake` imports the workflow folder's `layerwise`)."""
    assert set(TARGETS) <= set(SMOKE_TARGETS)
    work = tmp_path / "work"
    shutil.copytree(smoke_run, work, symlinks=True, copy_function=os.link,
                    ignore=shutil.ignore_patterns("__pycache__"))
    library = work / "layerwise"  # copy_workflow's link to the repo's library: made a real copy
    if library.is_symlink():
        library.unlink()
    else:
        shutil.rmtree(library)  # hard-linked files, which an edit would change in the original
    shutil.copytree((smoke_run / "layerwise").resolve(), library,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return work


def test_a_nothing_to_do_after_a_complete_run(built):
    assert planned(built) == {}


def test_b_svm_c_reruns_only_the_svm_jobs(built):
    jobs = planned(built, {"classification": {"C": 0.01}})
    assert jobs == {
        "classify": {classify(f"pre-{i}", "images") for i in SNAPSHOTS}
        | {classify("alexnet", "images", a) for a in ABLATIONS}
        | {classify(n, "gtboxes") for n in ["alexnet", "ft", "fcft"]},
        "per_layer_table": tables("table4_1", "table5_1", "table2_4")
        | {f"results/tables/{t}.compare.csv" for t in ["table4_1", "table5_1", "table2_4"]},
    }


def test_c_finetuning_lr_reruns_finetuning_and_downstream_only(built):
    jobs = planned(built, {"finetune": {"voc_det": {"lr": 0.002}}})
    gtboxes = ["voc07_trainval_gtboxes", "voc07_test_gtboxes"]
    # The VOC networks, not ft-sun (its own lr), pretraining or data.
    assert jobs == {
        "finetune": {f"results/models/{n}.pt" for n in ["ft", "fcft", "ft-50-50"]}
        | {f"results/logs/finetune/{n}.csv" for n in ["ft", "fcft", "ft-50-50"]},
        "dump_features": dumps("ft", *gtboxes) | dumps("fcft", *gtboxes),
        "classify": {classify("ft", "gtboxes"), classify("fcft", "gtboxes")},
        "per_layer_table": tables("table2_4") | {"results/tables/table2_4.compare.csv"},
    }


def test_d_a_new_snapshot_trains_only_its_segment(built):
    jobs = planned(built, {"pretrain": {"snapshots": [10, 20, 40, 60]}})
    images = ["voc07_trainval_images", "voc07_test_images"]
    assert jobs == {
        "pretrain_segment": {"results/models/pretrain/iter_60.pt",
                             "results/logs/pretrain/segment_60.csv"},
        "pretrain_curve": {"results/logs/pretrain_curve.csv"},
        "dump_features": dumps("pre-60", *images),
        "classify": {classify("pre-60", "images")},
        "per_layer_table": tables("table4_1") | {"results/tables/table4_1.compare.csv"},
    }


def test_e_editing_a_library_module_reruns_only_its_rules(built):
    module = built / "layerwise" / "analysis" / "ablations.py"
    module.write_text(module.read_text() + "\n# edited\n")
    jobs = planned(built)
    assert set(jobs) == {"classify", "per_layer_table"}
    assert len(jobs["classify"]) == len(SNAPSHOTS) + len(ABLATIONS) + 3

    tables_module = built / "layerwise" / "tables.py"
    module.write_text(module.read_text().removesuffix("\n# edited\n"))
    tables_module.write_text(tables_module.read_text() + "\n# edited\n")
    assert planned(built) == {
        "per_layer_table": tables("table4_1", "table5_1", "table2_4")
        | {f"results/tables/{t}.compare.csv" for t in ["table4_1", "table5_1", "table2_4"]},
    }
