"""The demo world generator (layerwise/data/demo_world.py, SPEC §4.1): determinism, the three
on-disk layouts, and the real loaders reading them."""

import hashlib
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torchvision

from layerwise.data import BadInput, demo_world
from layerwise.data.images import load_image
from layerwise.data.imagenet import imagenet_index
from layerwise.data.primitives import SHAPES
from layerwise.data.voc import VOC_CLASSES

SPLITS = ("train", "val", "trainval", "test")


def tree_hashes(root: Path) -> dict:
    """sha256 of every file under root, keyed by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_ids(voc_root, split):
    return (voc_root / "VOC2007" / "ImageSets" / "Main" / f"{split}.txt").read_text().split()


# --- determinism ---------------------------------------------------------------------------------

def test_same_seed_same_bytes_whatever_the_workers(tiny_world, tiny_demo_cfg, tmp_path):
    assert tiny_demo_cfg["workers"] == 2
    tiny_demo_cfg["workers"] = 1
    demo_world.generate(tmp_path / "demo", tiny_demo_cfg)
    first, second = tree_hashes(tiny_world), tree_hashes(tmp_path / "demo")
    assert len(first) > 80
    assert first == second


def test_different_seed_different_bytes(tiny_world, tiny_demo_cfg, tmp_path):
    tiny_demo_cfg["seed"] += 1
    demo_world.generate(tmp_path / "demo", tiny_demo_cfg)
    first, second = tree_hashes(tiny_world), tree_hashes(tmp_path / "demo")
    images = [p for p in first if p.lower().endswith((".jpg", ".jpeg")) and p in second]
    assert len(images) > 80
    assert all(first[p] != second[p] for p in images)


def test_generate_replaces_existing_root_and_leaves_no_temporary(tiny_demo_cfg, tmp_path):
    root = tmp_path / "demo"
    root.mkdir()
    (root / "stale.txt").write_text("from an older world")
    demo_world.generate(root, tiny_demo_cfg)
    assert not (root / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_world_definition_is_seeded():
    a, b, c = demo_world.make_world(0, 20), demo_world.make_world(0, 20), demo_world.make_world(1, 20)
    assert a.source == b.source and a.voc == b.voc
    np.testing.assert_array_equal(a.voc_weights, b.voc_weights)
    assert a.source != c.source


# --- the world's design (SPEC §4.1) --------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_person_is_the_most_frequent_voc_class(seed):
    world = demo_world.make_world(seed, 100)
    assert VOC_CLASSES[int(np.argmax(world.voc_weights))] == "person"
    assert world.voc_weights.sum() == pytest.approx(1.0)


def test_voc_classes_are_conjunctions_of_shared_primitives():
    world = demo_world.make_world(0, 100)
    assert sorted(world.voc) == sorted(VOC_CLASSES)
    # No single primitive names a class: each body and each part is used by two classes...
    assert set(Counter(c.body for c in world.voc.values()).values()) == {2}
    assert set(Counter(c.part for c in world.voc.values()).values()) == {2}
    # ...but the (body, part) pair does.
    assert len({(c.body, c.part) for c in world.voc.values()}) == 20
    assert all(c.body != c.part and c.body in SHAPES for c in world.voc.values())


def test_source_classes_are_distinct_triples():
    world = demo_world.make_world(0, 100)
    assert len(world.source) == 100 and len(set(world.source)) == 100


# --- layout: ILSVRC ------------------------------------------------------------------------------

def test_ilsvrc_layout(tiny_world, tiny_demo_cfg):
    n = tiny_demo_cfg["source_classes"]
    wnids = [demo_world.source_wnid(k) for k in range(n)]
    for split, per in (("train", "source_train_per_class"), ("val", "source_val_per_class")):
        folders = sorted(p.name for p in (tiny_world / "ILSVRC" / split).iterdir())
        assert folders == wnids
        for wnid in wnids:
            files = list((tiny_world / "ILSVRC" / split / wnid).iterdir())
            assert len(files) == tiny_demo_cfg[per] and all(f.suffix == ".JPEG" for f in files)
    synsets = (tiny_world / "ILSVRC" / "synsets.txt").read_text().splitlines()
    assert [line.split()[0] for line in synsets] == wnids


def test_torchvision_image_folder_reads_ilsvrc(tiny_world, tiny_demo_cfg):
    train = torchvision.datasets.ImageFolder(str(tiny_world / "ILSVRC" / "train"))
    val = torchvision.datasets.ImageFolder(str(tiny_world / "ILSVRC" / "val"))
    n = tiny_demo_cfg["source_classes"]
    assert train.classes == val.classes == [demo_world.source_wnid(k) for k in range(n)]
    assert len(train) == n * tiny_demo_cfg["source_train_per_class"]
    assert len(val) == n * tiny_demo_cfg["source_val_per_class"]
    image, label = train[len(train) - 1]
    lo, hi = tiny_demo_cfg["source_size"]
    assert label == n - 1 and image.mode == "RGB"
    assert lo <= image.size[0] <= hi and lo <= image.size[1] <= hi


def test_imagenet_index_matches_image_folder(tiny_world):
    index = imagenet_index(tiny_world / "ILSVRC")
    assert index.columns.tolist() == ["path", "wnid", "label", "split"]
    for split in ("train", "val"):
        folder = torchvision.datasets.ImageFolder(str(tiny_world / "ILSVRC" / split))
        want = [(Path(p).relative_to(tiny_world / "ILSVRC").as_posix(), folder.classes[y], y)
                for p, y in folder.samples]
        got = index[index["split"] == split][["path", "wnid", "label"]]
        assert list(got.itertuples(index=False, name=None)) == want


@pytest.mark.parametrize("missing", ["root", "val"])
def test_imagenet_index_missing_folder_raises(tiny_world, tmp_path, missing):
    root = tmp_path / "ILSVRC"
    if missing == "val":
        shutil.copytree(tiny_world / "ILSVRC" / "train", root / "train")
    with pytest.raises(BadInput) as info:
        imagenet_index(root)
    assert str(root) in str(info.value) and "data.imagenet_root" in str(info.value)


# --- layout: VOC ---------------------------------------------------------------------------------

def test_voc_layout_and_splits(tiny_world, tiny_demo_cfg):
    voc_root = tiny_world / "VOCdevkit"
    main = voc_root / "VOC2007" / "ImageSets" / "Main"
    want = {f"{s}.txt" for s in SPLITS} | {f"{c}_{s}.txt" for c in VOC_CLASSES for s in SPLITS}
    assert {p.name for p in main.iterdir()} == want
    ids = {s: read_ids(voc_root, s) for s in SPLITS}
    assert len(ids["trainval"]) == tiny_demo_cfg["voc_trainval"]
    assert len(ids["test"]) == tiny_demo_cfg["voc_test"]
    assert set(ids["train"]) | set(ids["val"]) == set(ids["trainval"])
    assert not set(ids["train"]) & set(ids["val"]) and not set(ids["trainval"]) & set(ids["test"])
    assert ids["train"] and ids["val"]
    images = sorted(p.stem for p in (voc_root / "VOC2007" / "JPEGImages").iterdir())
    annotations = sorted(p.stem for p in (voc_root / "VOC2007" / "Annotations").iterdir())
    assert images == annotations == sorted(ids["trainval"] + ids["test"])
    for s in SPLITS:  # every per-class file lists the split's images in its order
        for cls in VOC_CLASSES:
            lines = (main / f"{cls}_{s}.txt").read_text().splitlines()
            assert [line.split()[0] for line in lines] == ids[s]
            assert {int(line.split()[1]) for line in lines} <= {-1, 0, 1}


def test_voc_annotations_describe_their_images(tiny_world, tiny_demo_cfg):
    voc = tiny_world / "VOCdevkit" / "VOC2007"
    n_objects = 0
    for xml in sorted((voc / "Annotations").iterdir()):
        root = ET.parse(xml).getroot()
        image = load_image(voc / "JPEGImages" / root.findtext("filename"), "data.voc_root")
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        assert image.shape == (height, width, 3) and int(root.findtext("size/depth")) == 3
        assert max(width, height) == tiny_demo_cfg["voc_size"]
        objects = root.findall("object")
        assert 1 <= len(objects) <= tiny_demo_cfg["voc_max_objects"]
        for obj in objects:
            assert obj.findtext("name") in VOC_CLASSES
            assert obj.findtext("pose") in ("Left", "Right", "Unspecified")
            assert obj.findtext("difficult") in ("0", "1") and obj.findtext("truncated") in ("0", "1")
            x1, y1, x2, y2 = (int(obj.findtext(f"bndbox/{t}")) for t in
                              ("xmin", "ymin", "xmax", "ymax"))
            assert 1 <= x1 <= x2 <= width and 1 <= y1 <= y2 <= height
        n_objects += len(objects)
    assert n_objects > tiny_demo_cfg["voc_trainval"] + tiny_demo_cfg["voc_test"]  # several per image


# --- layout: SUN ---------------------------------------------------------------------------------

def test_sun_layout(tiny_world, tiny_demo_cfg):
    root = tiny_world / "SUN397"
    folders = sorted({p.parent.relative_to(root).as_posix() for p in root.rglob("*.jpg")})
    assert folders == sorted(demo_world.SUN_SCENES)
    assert len(folders) >= 10
    depths = Counter(len(f.split("/")) for f in folders)
    assert set(depths) == {2, 3} and depths[3] >= 2  # letter/scene and letter/scene/subscene
    for f in folders:
        letter, scene = f.split("/")[0], f.split("/")[1]
        assert len(letter) == 1 and scene.startswith(letter)
        assert len(list((root / f).glob("*.jpg"))) == tiny_demo_cfg["sun_per_class"]
    sample = load_image(next(root.rglob("*.jpg")), "data.sun_root")
    assert sample.shape[1] == tiny_demo_cfg["sun_size"]


def test_every_image_decodes(tiny_world):
    for p in tiny_world.rglob("*"):
        if p.suffix.lower() in (".jpg", ".jpeg"):
            assert load_image(p, "data.demo").dtype == np.uint8
