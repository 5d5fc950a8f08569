"""VOC2007 index and label semantics (layerwise/data/voc.py), real loaders on the demo world, and
bad-input handling (SPEC §4.3, §15)."""

import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import torchvision

import bad_inputs

from layerwise.data import BadInput
from layerwise.data.voc import INDEX_COLUMNS, VOC_CLASSES, build_index, image_labels, \
    parse_annotation

SPLITS = ("train", "val", "trainval", "test")


def brute_objects(voc_root, split):
    """Every <object> of a split's annotation files, read with ElementTree directly."""
    main = voc_root / "VOC2007"
    rows = []
    for image_id in (main / "ImageSets" / "Main" / f"{split}.txt").read_text().split():
        root = ET.parse(main / "Annotations" / f"{image_id}.xml").getroot()
        for obj in root.findall("object"):
            box = obj.find("bndbox")
            rows.append((image_id, int(root.find("size/width").text),
                         int(root.find("size/height").text), obj.find("name").text,
                         *(int(box.find(t).text) for t in ("xmin", "ymin", "xmax", "ymax")),
                         int(obj.find("difficult").text), int(obj.find("truncated").text)))
    return rows


def class_file(voc_root, cls, split):
    lines = (voc_root / "VOC2007" / "ImageSets" / "Main" / f"{cls}_{split}.txt").read_text()
    return {i: int(v) for i, v in (line.split() for line in lines.splitlines())}


# --- label semantics ---------------------------------------------------------------------------

def test_image_labels_hand_worked():
    index = pd.DataFrame(
        [("a", "person", 0), ("a", "person", 1),  # a difficult one does not hide a clear one
         ("b", "cat", 1), ("b", "cat", 1),          # only difficult cats: 0
         ("b", "dog", 0)],
        columns=["image_id", "class", "difficult"])
    labels = image_labels(index, ["c", "a", "b"]).set_index("image_id")
    assert labels.index.tolist() == ["c", "a", "b"]
    assert labels.columns.tolist() == list(VOC_CLASSES)
    want = pd.DataFrame(-1, index=["c", "a", "b"], columns=list(VOC_CLASSES))
    want.loc["a", "person"] = 1
    want.loc["b", "cat"] = 0
    want.loc["b", "dog"] = 1
    np.testing.assert_array_equal(labels.to_numpy(), want.to_numpy())


def test_image_labels_no_objects_all_absent():
    index = pd.DataFrame(columns=INDEX_COLUMNS)
    labels = image_labels(index, ["x", "y"])
    assert labels["image_id"].tolist() == ["x", "y"]
    assert (labels[list(VOC_CLASSES)] == -1).all().all()


def test_parse_annotation_keeps_difficult_and_truncated(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<annotation><size><width>50</width><height>40</height><depth>3</depth></size>"
        "<object><name>dog</name><truncated>1</truncated><difficult>0</difficult>"
        "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>50</xmax><ymax>40</ymax></bndbox></object>"
        "<object><name> cat </name><truncated>0</truncated><difficult>1</difficult>"
        "<bndbox><xmin>10.0</xmin><ymin>12</ymin><xmax>20</xmax><ymax>22</ymax></bndbox></object>"
        "</annotation>")
    width, height, objects = parse_annotation(xml)
    assert (width, height) == (50, 40)
    assert objects == [
        {"class": "dog", "x1": 1, "y1": 2, "x2": 50, "y2": 40, "difficult": 0, "truncated": 1},
        {"class": "cat", "x1": 10, "y1": 12, "x2": 20, "y2": 22, "difficult": 1, "truncated": 0}]


@pytest.mark.parametrize("split", SPLITS)
def test_index_holds_every_object_with_flags(tiny_world, split):
    voc_root = tiny_world / "VOCdevkit"
    index, labels, skipped = build_index(voc_root, split)
    assert skipped == []
    assert index.columns.tolist() == INDEX_COLUMNS
    assert list(index.itertuples(index=False, name=None)) == brute_objects(voc_root, split)
    ids = (voc_root / "VOC2007" / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
    assert labels["image_id"].tolist() == ids


def test_tiny_world_has_difficult_truncated_and_zero_labels(tiny_world):
    # The fixtures must exercise every label value, or the semantics tests below prove little.
    index, labels, _ = build_index(tiny_world / "VOCdevkit", "test")
    assert index["difficult"].sum() > 0 and index["truncated"].sum() > 0
    values = labels[list(VOC_CLASSES)].to_numpy()
    assert {-1, 0, 1} <= set(np.unique(values))


@pytest.mark.parametrize("split", SPLITS)
def test_class_files_agree_with_image_labels(tiny_world, split):
    voc_root = tiny_world / "VOCdevkit"
    _, labels, _ = build_index(voc_root, split)
    labels = labels.set_index("image_id")
    for cls in VOC_CLASSES:
        assert class_file(voc_root, cls, split) == labels[cls].to_dict(), cls


def test_labels_follow_devkit_rule_from_objects(tiny_world):
    """Brute force: 1 iff a non-difficult object of the class, 0 iff only difficult, else -1."""
    voc_root = tiny_world / "VOCdevkit"
    _, labels, _ = build_index(voc_root, "test")
    objects = brute_objects(voc_root, "test")
    for row in labels.itertuples(index=False):
        for k, cls in enumerate(VOC_CLASSES):
            flags = [o[8] for o in objects if o[0] == row.image_id and o[3] == cls]
            want = -1 if not flags else (1 if 0 in flags else 0)
            assert row[1 + k] == want, (row.image_id, cls)


# --- real loaders --------------------------------------------------------------------------------

def test_torchvision_voc_detection_reads_demo_world(tiny_world):
    ds = torchvision.datasets.VOCDetection(root=str(tiny_world), year="2007", image_set="test",
                                           download=False)
    index, labels, _ = build_index(tiny_world / "VOCdevkit", "test")
    assert len(ds) == len(labels)
    for i, image_id in enumerate(labels["image_id"]):
        image, target = ds[i]
        ann = target["annotation"]
        assert ann["filename"] == f"{image_id}.jpg"
        rows = index[index["image_id"] == image_id]
        assert image.size == (rows["width"].iloc[0], rows["height"].iloc[0])
        got = [(o["name"], *(int(o["bndbox"][t]) for t in ("xmin", "ymin", "xmax", "ymax")),
                int(o["difficult"])) for o in ann["object"]]
        assert got == list(rows[["class", "x1", "y1", "x2", "y2", "difficult"]]
                           .itertuples(index=False, name=None))


# --- bad input -----------------------------------------------------------------------------------

CORRUPTIONS = {
    "truncated_jpeg": ("JPEGImages", ".jpg", bad_inputs.truncate),
    "zero_byte_jpeg": ("JPEGImages", ".jpg", bad_inputs.zero_bytes),
    "missing_jpeg": ("JPEGImages", ".jpg", bad_inputs.delete),
    "malformed_xml": ("Annotations", ".xml", bad_inputs.malformed_xml),
    "xml_without_bndbox": ("Annotations", ".xml", bad_inputs.drop_bndbox),
    "box_outside_image": ("Annotations", ".xml", bad_inputs.box_outside),
    "missing_xml": ("Annotations", ".xml", bad_inputs.delete),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_bad_file_raises_naming_file_and_key(voc_copy, kind):
    folder, ext, corrupt = CORRUPTIONS[kind]
    bad = voc_copy / "VOC2007" / folder / f"{bad_inputs.first_test_image(voc_copy)}{ext}"
    corrupt(bad)
    with pytest.raises(BadInput) as info:
        build_index(voc_copy, "test")
    assert str(bad) in str(info.value) and "data.voc_root" in str(info.value)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_bad_file_skipped_and_reported(voc_copy, kind):
    good_index, good_labels, _ = build_index(voc_copy, "test")
    folder, ext, corrupt = CORRUPTIONS[kind]
    image_id = bad_inputs.first_test_image(voc_copy)
    bad = voc_copy / "VOC2007" / folder / f"{image_id}{ext}"
    corrupt(bad)
    index, labels, skipped = build_index(voc_copy, "test", on_bad_file="skip")
    assert len(skipped) == 1 and str(bad) in skipped[0]
    assert labels["image_id"].tolist() == [i for i in good_labels["image_id"] if i != image_id]
    pd.testing.assert_frame_equal(
        index.reset_index(drop=True),
        good_index[good_index["image_id"] != image_id].reset_index(drop=True))


@pytest.mark.parametrize("on_bad_file", ["error", "skip"])
def test_empty_image_set_raises(voc_copy, on_bad_file):
    # Nothing to skip to: an empty split is an error in both modes.
    image_set = voc_copy / "VOC2007" / "ImageSets" / "Main" / "test.txt"
    image_set.write_text("")
    with pytest.raises(BadInput) as info:
        build_index(voc_copy, "test", on_bad_file=on_bad_file)
    assert str(image_set) in str(info.value) and "data.voc_root" in str(info.value)


@pytest.mark.parametrize("on_bad_file", ["error", "skip"])
def test_missing_root_raises(tmp_path, on_bad_file):
    root = tmp_path / "no such VOCdevkit"
    with pytest.raises(BadInput) as info:
        build_index(root, "test", on_bad_file=on_bad_file)
    assert str(root) in str(info.value) and "data.voc_root" in str(info.value)


def test_unknown_class_raises(voc_copy):
    xml = voc_copy / "VOC2007" / "Annotations" / f"{bad_inputs.first_test_image(voc_copy)}.xml"
    tree = ET.parse(xml)
    tree.getroot().find("object/name").text = "unicorn"
    tree.write(xml)
    with pytest.raises(BadInput, match="unicorn"):
        build_index(voc_copy, "test")


def _annotation(tmp_path, object_xml):
    xml = tmp_path / "000001.xml"
    xml.write_text("<annotation><size><width>50</width><height>40</height><depth>3</depth></size>"
                   f"<object><name>dog</name>{object_xml}</object></annotation>")
    return xml


BOX = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>"


@pytest.mark.parametrize("object_xml", [
    "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>five</xmax><ymax>5</ymax></bndbox>",
    "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>nan</xmax><ymax>5</ymax></bndbox>",
    "<bndbox><xmin>1</xmin><ymin>1</ymin><ymax>5</ymax></bndbox>",
    "<bndbox><xmin>6</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>",  # x1 > x2
    "<bndbox><xmin>0</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>",  # 0-based
], ids=["text", "nan", "no-xmax", "inverted", "zero"])
def test_malformed_box_values_raise(tmp_path, object_xml):
    xml = _annotation(tmp_path, object_xml)
    with pytest.raises(BadInput) as info:
        parse_annotation(xml)
    assert str(xml) in str(info.value) and "data.voc_root" in str(info.value)


def test_infinite_coordinate_raises_bad_input(tmp_path):
    xml = _annotation(tmp_path, BOX.replace("<xmax>5</xmax>", "<xmax>inf</xmax>"))
    with pytest.raises(BadInput, match="data.voc_root"):
        parse_annotation(xml)


@pytest.mark.parametrize("flag", ["difficult", "truncated"])
def test_non_numeric_flag_raises_bad_input(tmp_path, flag):
    xml = _annotation(tmp_path, f"<{flag}>yes</{flag}>" + BOX)
    with pytest.raises(BadInput) as info:
        parse_annotation(xml)
    assert str(xml) in str(info.value) and "data.voc_root" in str(info.value)


def test_paths_with_spaces_and_quotes(voc_copy, tmp_path):
    odd = tmp_path / "my 'VOC' data" / "VOCdevkit"
    shutil.copytree(voc_copy, odd)
    index, labels, skipped = build_index(odd, "test")
    good_index, good_labels, _ = build_index(voc_copy, "test")
    assert skipped == []
    pd.testing.assert_frame_equal(index, good_index)
    pd.testing.assert_frame_equal(labels, good_labels)
