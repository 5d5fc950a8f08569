"""Shared fixtures of the data-stage tests: a tiny demo-world config and one generated world.

The world is generated once per session (about 0.5 s) and must be treated as read-only; tests
that corrupt files work on copies (`voc_copy`, `sun_copy`).
"""

import copy
import shutil
from pathlib import Path

import pytest

from layerwise.data import demo_world

REPO = Path(__file__).resolve().parents[1]

# The smallest world the generator accepts for VOC/SUN, with a handful of source classes. Seed 3
# yields difficult objects, truncated objects and 0 labels in the test split (tests check that).
TINY_DEMO = {
    "seed": 5,
    "source_classes": 3,
    "source_train_per_class": 3,
    "source_val_per_class": 1,
    "source_size": [40, 56],
    "voc_trainval": 8,
    "voc_test": 8,
    "voc_size": 64,
    "voc_max_objects": 3,
    "sun_per_class": 5,
    "sun_size": 40,
    "workers": 2,
}


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def schema_path():
    return REPO / "schemas" / "config.schema.yaml"


@pytest.fixture
def tiny_demo_cfg():
    """A fresh copy of the tiny `data.demo` block, safe to modify."""
    return copy.deepcopy(TINY_DEMO)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """The tiny demo world, generated once: the folder holding ILSVRC, VOCdevkit and SUN397."""
    root = tmp_path_factory.mktemp("world") / "demo"
    demo_world.generate(root, copy.deepcopy(TINY_DEMO))
    return root


@pytest.fixture
def voc_copy(tiny_world, tmp_path):
    """A private copy of the tiny world's VOCdevkit, for corrupting."""
    dst = tmp_path / "VOCdevkit"
    shutil.copytree(tiny_world / "VOCdevkit", dst)
    return dst


@pytest.fixture
def sun_copy(tiny_world, tmp_path):
    """A private copy of the tiny world's SUN397 tree, for corrupting."""
    dst = tmp_path / "SUN397"
    shutil.copytree(tiny_world / "SUN397", dst)
    return dst


# One end-to-end run of the workflow on configs/smoke.yaml, shared by the test_workflow_*
# modules: the data stage, pretraining, the fine-tuned networks and the classification tables.
SMOKE_TARGETS = [
    "results/data/voc07_test_gtboxes.h5", "results/data/voc07_test_proposals.h5",
    "results/data/sun_split.csv", "results/data/imagenet_index.csv",
    "results/models/ft.pt", "results/models/fcft.pt", "results/models/ft-50-50.pt",
    "results/models/ft-sun.pt", "results/logs/pretrain_curve.csv",
    "results/tables/table4_1.csv", "results/tables/table5_1.csv", "results/tables/table2_4.csv",
    "results/figures/fig_top9_pool5.png", "results/figures/fig_occlusion.png",
    "results/tables/table2_1.csv", "results/tables/table3_1.csv", "results/figures/fig2_2.png",
    "results/figures/fig3_4.png", "results/figures/fig4_1.png", "results/figures/fig3_1.png",
    "results/tables/table_patch.csv", "results/figures/fig_patch_pr.png",
    "results/tables/table_cache.csv",
    "results/tables/table2_2.csv", "results/tables/table2_3.csv", "results/tables/table4_2.csv",
    "results/tables/table5_2.csv",
]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The workflow folder after a complete smoke run (treat as read-only: copy to modify)."""
    from workflow import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    code, out = snakemake(workdir, "-j2", *SMOKE_TARGETS, "--configfile", "configs/smoke.yaml",
                          timeout=1800)  # a safety net for loaded machines, not a budget
    assert code == 0, out[-4000:]
    return workdir
