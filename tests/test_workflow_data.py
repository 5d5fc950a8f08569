"""End to end: the data stage of the workflow on configs/smoke.yaml (SPEC §4, §9.0, §15).

The workflow files are copied into a temporary folder (the library is linked), so the run
neither touches nor depends on results/ in the repository. About 30 s on the 2-core machine.
"""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from layerwise.data.voc import INDEX_COLUMNS, VOC_CLASSES
from workflow import copy_workflow, snakemake

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["results/data/voc07_test_gtboxes.h5", "results/data/voc07_test_proposals.h5",
           "results/data/sun_split.csv", "results/data/imagenet_index.csv"]


@pytest.fixture(scope="module")
def smoke(smoke_run):
    workdir = smoke_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    update_config(config, yaml.safe_load((workdir / "configs" / "smoke.yaml").read_text()))
    return workdir, config


def read_csv(workdir, name):
    return pd.read_csv(workdir / "results" / "data" / name, dtype={"image_id": str})


def test_index_and_labels_tables(smoke):
    workdir, _ = smoke
    index, labels = read_csv(workdir, "voc07_test_index.csv"), read_csv(workdir, "voc07_test_labels.csv")
    assert index.columns.tolist() == INDEX_COLUMNS
    assert labels.columns.tolist() == ["image_id", *VOC_CLASSES]
    assert set(index["image_id"]) <= set(labels["image_id"])
    assert set(np.unique(labels[list(VOC_CLASSES)])) <= {-1, 0, 1}


def test_gtbox_patches(smoke):
    workdir, config = smoke
    index = read_csv(workdir, "voc07_test_index.csv")
    kept = index[index["difficult"] == 0]  # include_difficult is false in the config
    size = config["model"]["input_size"]
    with h5py.File(workdir / "results" / "data" / "voc07_test_gtboxes.h5") as f:
        patches, labels = f["patches"], f["labels"][:]
        assert patches.dtype == np.uint8 and patches.shape == (len(kept), 3, size, size)
        assert len(kept) > 0
        assert labels.min() >= 0 and labels.max() <= 19
        np.testing.assert_array_equal(labels, kept["class"].map(VOC_CLASSES.index))
        np.testing.assert_array_equal(f["boxes"][:], kept[["x1", "y1", "x2", "y2"]])
        assert [s.decode() for s in f["image_ids"][:]] == kept["image_id"].tolist()
        assert not f["difficult"][:].any()
        assert f.attrs["size"] == size
        assert patches[:].std() > 10  # real image content, not a constant fill


def test_proposals_inside_images(smoke):
    workdir, config = smoke
    index = read_csv(workdir, "voc07_test_index.csv")
    labels = read_csv(workdir, "voc07_test_labels.csv")
    sizes = index.groupby("image_id")[["width", "height"]].first()
    with h5py.File(workdir / "results" / "data" / "voc07_test_proposals.h5") as f:
        ids = [s.decode() for s in f["image_ids"][:]]
        boxes, offsets = f["boxes"][:], f["offsets"][:]
    assert ids == labels["image_id"].tolist()  # every image, in split order, shards joined
    assert boxes.dtype == np.int32 and offsets[-1] == len(boxes)
    limit = config["data"]["proposals"]["max_per_image"]
    for image_id, a, b in zip(ids, offsets[:-1], offsets[1:]):
        width, height = sizes.loc[image_id]
        x1, y1, x2, y2 = boxes[a:b].T
        assert 0 < b - a <= limit
        assert (1 <= x1).all() and (x1 <= x2).all() and (x2 <= width).all()
        assert (1 <= y1).all() and (y1 <= y2).all() and (y2 <= height).all()
    assert not list((workdir / "results" / "data" / "proposals").glob("*.h5"))  # temp shards


def test_sun_split_table(smoke):
    workdir, config = smoke
    split = read_csv(workdir, "sun_split.csv")
    assert split.columns.tolist() == ["path", "scene", "split"]
    counts = split.groupby("scene")["split"].value_counts().unstack(fill_value=0)
    assert len(counts) >= 10 and "bakery/shop" in counts.index
    per_class = config["data"]["demo"]["sun_per_class"]
    assert per_class == 10  # smoke.yaml; 50 / 10 / 40 of 10 is 5 / 1 / 4
    assert (counts[["train", "val", "test"]] == [5, 1, 4]).all().all()


def test_imagenet_index_table(smoke):
    workdir, config = smoke
    index = read_csv(workdir, "imagenet_index.csv")
    demo = config["data"]["demo"]
    assert index.columns.tolist() == ["path", "wnid", "label", "split"]
    assert index["wnid"].nunique() == demo["source_classes"]
    assert (index["split"] == "train").sum() == demo["source_classes"] * demo["source_train_per_class"]
    assert (index["split"] == "val").sum() == demo["source_classes"] * demo["source_val_per_class"]


def test_logs_benchmarks_and_nothing_half_written(smoke):
    workdir, _ = smoke
    logs = {p.name for p in (workdir / "results" / "logs" / "data").rglob("*.log")}
    assert {"demo_world.log", "voc07_test_index.log", "voc07_test_gtboxes.log",
            "voc07_test_proposals.log", "sun_split.log", "imagenet_index.log"} <= logs
    assert (workdir / "results" / "benchmarks" / "data" / "demo_world.tsv").is_file()
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name]
    leftovers += [p for p in (workdir / "resources").iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_second_run_has_nothing_to_do(smoke):
    workdir, _ = smoke
    code, out = snakemake(workdir, "-n", *TARGETS, "--configfile", "configs/smoke.yaml")
    assert code == 0, out[-4000:]
    assert "Nothing to be done" in out, out[-4000:]


@pytest.mark.parametrize("args, key", [
    (["--config", "threads=abc"], "threads"),
    (["--configfile", "configs/paper.yaml"], "data.imagenet_root"),
], ids=["wrong-type", "placeholder-roots"])
def test_bad_config_fails_before_any_job(tmp_path, args, key):
    workdir = copy_workflow(tmp_path)
    code, out = snakemake(workdir, "-j1", "results/data/sun_split.csv", *args, timeout=120)
    assert code != 0
    assert f"config key {key}" in out, out[-4000:]
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()
    assert "Building DAG" not in out
