"""Seeds 000 and 003 end to end on the shared smoke run: table_patch, its figures, table_cache."""

import h5py
import pandas as pd
import pytest
import yaml

PATCH_COLUMNS = ["switch_epoch", "precision", "recall", "tp", "fp", "fn", "tn", "train_time_s"]
CACHE_COLUMNS = ["training", "epoch", "accuracy", "cache_hits", "samples_trained",
                 "wall_time_s"]


def smoke_experiments(workdir):
    return yaml.safe_load((workdir / "configs" / "smoke.yaml").read_text())["experiments"]


def test_table_patch_has_one_row_per_switch_epoch_and_summed_counts(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/table_patch.csv")
    assert list(table.columns) == PATCH_COLUMNS
    switches = smoke_experiments(smoke_run)["patch_pretraining"]["switch_epochs"]
    assert table["switch_epoch"].tolist() == sorted(switches)
    with h5py.File(smoke_run / "results/data/voc07_test_images.h5", "r") as f:
        labels = f["labels"][:]
    # Every (test image, class) pair is counted once; the positives are the present classes.
    assert (table[["tp", "fp", "fn", "tn"]].sum(axis=1) == labels.size).all()
    assert (table["tp"] + table["fn"] == (labels != -1).sum()).all()
    precision = 100 * table["tp"] / (table["tp"] + table["fp"])
    recall = 100 * table["tp"] / (table["tp"] + table["fn"])
    assert table["precision"].tolist() == pytest.approx(precision.round(2).tolist(), abs=0.006)
    assert table["recall"].tolist() == pytest.approx(recall.round(2).tolist(), abs=0.006)
    assert (table["train_time_s"] > 0).all()


@pytest.mark.parametrize("name", ["fig_patch_pr", "fig_patch_time"])
def test_patch_figures_exist(smoke_run, name):
    for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
        assert (smoke_run / "results/figures" / f"{name}{suffix}").read_bytes()[:4] == magic


def test_table_cache_compares_normal_and_caching_training(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/table_cache.csv")
    assert list(table.columns) == CACHE_COLUMNS
    epochs = smoke_experiments(smoke_run)["similarity_cache"]["epochs"]
    with h5py.File(smoke_run / "results/data/imagenet_train_images.h5", "r") as f:
        n = len(f["labels"])
    for training, rows in table.groupby("training", sort=False):
        assert rows["epoch"].tolist() == list(range(1, epochs + 1))
        assert (rows["cache_hits"] + rows["samples_trained"] == n).all()
        assert rows["accuracy"].between(0, 100).all()
    assert table["training"].unique().tolist() == ["normal", "caching"]
    assert (table.loc[table["training"] == "normal", "cache_hits"] == 0).all()


def test_a_switch_epoch_beyond_the_epochs_is_refused_at_start_up(tmp_path):
    from workflow import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(
        "experiments:\n  patch_pretraining: {switch_epochs: [0, 5], epochs: 2}\n")
    code, out = snakemake(workdir, "-n", "results/tables/table_patch.csv", "--configfile",
                          "configs/smoke.yaml", "bad.yaml")
    assert code != 0
    assert "config key experiments.patch_pretraining.switch_epochs: 5 is more than epochs" in out


@pytest.mark.parametrize("init", ["scratch", "pretrained"])
def test_the_patch_sweep_reads_the_snapshot_only_when_pretrained(tmp_path, init):
    from workflow import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path)
    (workdir / "init.yaml").write_text(f"experiments:\n  patch_pretraining: {{init: {init}}}\n")
    code, out = snakemake(workdir, "-n", "results/experiments/patch_pretraining/switch_1.csv",
                          "--configfile", "configs/smoke.yaml", "init.yaml")
    assert code == 0, out[-4000:]
    job = out[out.index("rule patch_pretraining:"):]
    inputs = next(line for line in job.splitlines() if line.strip().startswith("input:"))
    smoke = yaml.safe_load((workdir / "configs" / "smoke.yaml").read_text())
    snapshot = f"results/models/pretrain/iter_{smoke['networks']['alexnet']['snapshot']}.pt"
    assert (snapshot in inputs) == (init == "pretrained"), inputs
    # A scratch sweep does not wait for pretraining at all.
    assert ("rule pretrain_init:" in out) == (init == "pretrained")
