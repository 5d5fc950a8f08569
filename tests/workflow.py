"""Running the workflow from tests: a private copy of the workflow files, Snakemake as a child."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_workflow(dst: Path) -> Path:
    """Copy the workflow into `dst`, so a run neither touches nor depends on the repo's results/."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, dst / name)
    for name in ("rules", "workflow_scripts", "schemas", "configs", "envs"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dst / name)
    (dst / "layerwise").symlink_to(REPO / "layerwise")  # rules hash the library's source
    return dst


def snakemake_command(*args):
    return [sys.executable, "-m", "snakemake", *args]


def snakemake(workdir, *args, timeout=600):
    """Run Snakemake in `workdir`; targets go before --configfile, which takes several values."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(snakemake_command(*args), cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr
