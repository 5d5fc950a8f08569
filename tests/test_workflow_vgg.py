"""The workflow with the seed 004 architectures: the whole DAG builds with vgg16 and with SPP, and
one table runs end to end with vgg_mini on the smoke run's data."""

import shutil

import pandas as pd
import torch
import yaml
from workflow import copy_workflow, snakemake


def test_whole_dag_builds_with_vgg16_and_spp(tmp_path):
    workdir = copy_workflow(tmp_path)
    model = {"arch": "vgg16", "input_size": 224, "width": 1.0, "spp": True}
    (workdir / "arch.yaml").write_text(yaml.safe_dump({"model": model}))
    code, out = snakemake(workdir, "-n", "--configfile", "configs/smoke.yaml", "arch.yaml")
    assert code == 0, out[-4000:]
    for rule in ("pretrain_init", "finetune", "dump_features", "classify", "top9_patches",
                 "occlusion"):
        assert rule in out


def test_table5_1_with_vgg_mini(smoke_run, tmp_path):
    """Table 5.1 (ablations on the alexnet network's layers) with vgg_mini, reusing the smoke
    run's data stage: only pretraining, the dumps, the SVMs and the table run again."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run, workdir, symlinks=True)
    for stage in ("models", "features", "analysis", "tables"):
        shutil.rmtree(workdir / "results" / stage, ignore_errors=True)
    # Half the default width keeps the pretraining of VGG's 13 convs light.
    model = {"arch": "vgg_mini", "width": 0.125}
    (workdir / "arch.yaml").write_text(yaml.safe_dump({"model": model}))
    code, out = snakemake(workdir, "-j2", "results/tables/table5_1.csv", "--configfile",
                          "configs/smoke.yaml", "arch.yaml")
    assert code == 0, out[-4000:]
    assert "demo_world" not in out and "gtbox_patches" not in out
    table = pd.read_csv(workdir / "results/tables/table5_1.csv", index_col=0)
    assert len(table) == 7 and table.notna().all().all()
    assert ((table >= 0) & (table <= 100)).all().all()
    snapshots = list((workdir / "results/models/pretrain").glob("iter_*.pt"))
    assert snapshots
    for path in snapshots:
        snapshot = torch.load(path, weights_only=True)
        assert snapshot["arch"]["arch"] == "vgg_mini"
        assert snapshot["model"]["conv3_3.weight"].shape[0] == 32  # 256 x 0.125
