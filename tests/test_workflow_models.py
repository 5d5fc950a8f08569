"""End to end: pretraining snapshots and fine-tuned networks on configs/smoke.yaml (SPEC §6, §7,
§15), including jobs killed on purpose and resumed with --rerun-incomplete.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest
import torch

from layerwise.models import LAYERS
from layerwise.training import load_checkpoint
from workflow import snakemake, snakemake_command

NETS = ["ft", "fcft", "ft-50-50", "ft-sun"]
SMOKE = ("--configfile", "configs/smoke.yaml")
CONV = [n for n in LAYERS if n.startswith("conv")]


@pytest.fixture(scope="module")
def run(smoke_run):
    return smoke_run


@pytest.fixture
def scratch(smoke_run, tmp_path):
    """A private copy of the finished smoke run, for tests that kill and re-run jobs."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run, workdir, symlinks=True)
    return workdir


def weights(path):
    return load_checkpoint(path)["model"]


def same_layer(a, b, layer):
    return all(torch.equal(a[f"{layer}.{p}"], b[f"{layer}.{p}"]) for p in ("weight", "bias"))


def test_fcft_keeps_every_conv_weight_of_its_snapshot(run):
    base = weights(run / "results/models/pretrain/iter_40.pt")
    fcft, ft = weights(run / "results/models/fcft.pt"), weights(run / "results/models/ft.pt")
    assert all(same_layer(fcft, base, layer) for layer in CONV)
    assert not same_layer(fcft, base, "fc7")
    assert not any(same_layer(ft, base, layer) for layer in CONV)


def test_networks_start_from_their_snapshot(run):
    ft_50 = load_checkpoint(run / "results/models/ft-50-50.pt")
    assert ft_50["arch"]["num_classes"] == 21 and ft_50["iteration"] == 10
    sun = load_checkpoint(run / "results/models/ft-sun.pt")
    assert sun["arch"]["num_classes"] == 12  # the demo world's scenes


def test_pretrain_curve_has_loss_and_validation_at_every_snapshot(run):
    import pandas as pd

    curve = pd.read_csv(run / "results/logs/pretrain_curve.csv")
    assert curve.columns.tolist() == ["iteration", "loss", "val_top1"]
    evaluated = curve.dropna(subset=["val_top1"])["iteration"].tolist()
    assert evaluated == [0, 10, 20, 40]
    assert curve["loss"].notna().sum() == 40 // 5  # log_every 5


def test_nothing_to_do_after_a_complete_run(run):
    code, out = snakemake(run, "-n", "-j2", *[f"results/models/{n}.pt" for n in NETS], *SMOKE)
    assert code == 0 and "Nothing to be done" in out, out[-2000:]


def kill_when(workdir, args, ready, timeout=300):
    """Start Snakemake, SIGKILL its whole process group as soon as `ready()` holds."""
    proc = subprocess.Popen(snakemake_command(*args), cwd=workdir, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.time() < deadline, "the job never reached the kill point"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    code, out = snakemake(workdir, *args, "--unlock")  # a killed Snakemake leaves its lock
    assert code == 0, out[-2000:]


def test_killed_finetuning_resumes_to_the_same_weights(scratch):
    run = scratch
    # Longer fine-tuning with frequent saves, so the kill lands between two saved states.
    (run / "kill.yaml").write_text(
        "finetune: {checkpoint_every: 5}\n"
        "networks: {fcft-sun: {snapshot: 40, finetune: {task: sun, train: fc, iters: 30}}}\n")
    target = "results/models/fcft-sun.pt"
    args = ("-j1", target, "--configfile", "configs/smoke.yaml", "kill.yaml")
    partial = run / "results/models/.partial"
    kill_when(run, args, lambda: partial.is_dir() and any(partial.glob("fcft-sun-*.pt")))
    assert not (run / target).exists()  # nothing that looks complete
    code, out = snakemake(run, *args, "--rerun-incomplete")
    assert code == 0, out[-4000:]
    log = (run / "results/logs/finetune/fcft-sun.log").read_text()
    assert "resum" in log.lower(), log[-2000:]
    resumed = weights(run / target)
    code, out = snakemake(run, *args, "--forcerun", target)
    assert code == 0, out[-4000:]
    fresh = weights(run / target)
    assert resumed.keys() == fresh.keys()
    assert all(torch.equal(resumed[k], fresh[k]) for k in fresh)


def test_killed_pretraining_segment_is_redone_to_the_same_weights(scratch):
    run = scratch
    target = "results/models/pretrain/iter_20.pt"
    before = weights(run / target)
    log = run / "results/logs/pretrain/iter_20.log"
    started = log.stat().st_mtime

    def training():
        return log.exists() and log.stat().st_mtime > started and "sgd" in log.read_text()

    args = ("-j1", target, *SMOKE)
    kill_when(run, (*args, "--forcerun", target), training)
    assert not (run / target).exists()
    code, out = snakemake(run, *args, "--rerun-incomplete")
    assert code == 0, out[-4000:]
    after = weights(run / target)
    assert all(torch.equal(before[k], after[k]) for k in before)
