"""End to end: the detection tables from the smoke run (thesis Tables 2.2, 2.3, 4.2, 5.2; SPEC §9).

The AP in the tables is recomputed here from the detection CSVs (SPEC §9.0), and FC-FT is shown
to read Alex-Net's pool5 cache because its convolutional weights are Alex-Net's, bit for bit.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from layerwise.data.voc import VOC_CLASSES
from layerwise.detection.boxes import box_iou_voc
from layerwise.detection.evaluate import DETECTION_COLUMNS, detection_aps
from layerwise.reference import load_reference_table

ROWS_2_3 = {"15": ("alexnet", "pool5"), "15-ft": ("ft", "pool5"), "15-fc-ft": ("fcft", "pool5"),
            "16": ("alexnet", "fc6"), "16-ft": ("ft", "fc6"), "16-fc-ft": ("fcft", "fc6"),
            "17": ("alexnet", "fc7"), "17-ft": ("ft", "fc7"), "17-fc-ft": ("fcft", "fc7")}


def _read(run, name):
    table = pd.read_csv(run / f"results/tables/{name}.csv", dtype=str)
    return table.set_index(table.columns[0]).astype(float)


def test_table2_3_has_nine_rows_of_twenty_classes_and_map_in_percent(smoke_run):
    table = _read(smoke_run, "table2_3")
    assert table.index.tolist() == list(ROWS_2_3)
    assert table.columns.tolist() == load_reference_table("table2_3").columns.tolist()
    values = table.to_numpy()
    assert values.shape == (9, 21)
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 100)).all()
    # the mean of 20 values rounded to 0.1, against their exact mean rounded to 0.1
    np.testing.assert_allclose(table["mAP"], table.iloc[:, :20].mean(axis=1), atol=0.101)


def test_ap_recomputed_from_the_detection_csvs_equals_the_table(smoke_run):
    table = _read(smoke_run, "table2_3")
    gt = pd.read_csv(smoke_run / "results/data/voc07_test_index.csv", dtype={"image_id": str})
    for row, (net, layer) in ROWS_2_3.items():
        det = pd.read_csv(smoke_run / f"results/detection/{net}/{layer}/test_detections.csv",
                          dtype={"image_id": str})
        assert det.columns.tolist() == DETECTION_COLUMNS
        aps = detection_aps(det, gt, VOC_CLASSES)
        np.testing.assert_allclose(table.loc[row].iloc[:20], aps, atol=0.051, err_msg=row)
        np.testing.assert_allclose(table.at[row, "mAP"], aps.mean(), atol=0.051, err_msg=row)


def test_detections_are_per_class_nms_survivors_inside_their_images(smoke_run):
    det = pd.read_csv(smoke_run / "results/detection/ft/fc7/test_detections.csv",
                      dtype={"image_id": str})
    sizes = pd.read_csv(smoke_run / "results/data/voc07_test_index.csv",
                        dtype={"image_id": str}).groupby("image_id")[["width", "height"]].first()
    assert set(det["class"]) <= set(VOC_CLASSES) and len(det) > 0
    assert (det["x1"] >= 1).all() and (det["y1"] >= 1).all()
    bounds = sizes.loc[det["image_id"]]
    assert (det["x2"].to_numpy() <= bounds["width"].to_numpy()).all()
    assert (det["y2"].to_numpy() <= bounds["height"].to_numpy()).all()
    for _, group in det.groupby(["image_id", "class"]):
        iou = box_iou_voc(group[["x1", "y1", "x2", "y2"]], group[["x1", "y1", "x2", "y2"]])
        assert (iou[np.triu_indices(len(group), 1)] <= 0.3).all()


def test_fcft_reads_alexnets_pool5_cache_whose_conv_weights_it_shares(smoke_run):
    features = smoke_run / "results/features"
    assert (features / "alexnet/voc07_test_proposals/pool5_0.h5").exists()
    assert not (features / "fcft/voc07_test_proposals").exists()
    alexnet = torch.load(smoke_run / "results/models/pretrain/iter_40.pt", weights_only=True)
    fcft = torch.load(smoke_run / "results/models/fcft.pt", weights_only=True)
    convs = [k for k in alexnet["model"] if k.startswith("conv")]
    assert convs and all(torch.equal(alexnet["model"][k], fcft["model"][k]) for k in convs)
    table = _read(smoke_run, "table2_3")
    pd.testing.assert_series_equal(table.loc["15"], table.loc["15-fc-ft"], check_names=False)


@pytest.mark.parametrize("name, rows", [
    ("table2_2", ["relu-7"]),
    ("table4_2", ["15(50-50)", "15(100-50)", "15(full)", "17(50-50)", "17(100-50)", "17(full)"]),
    ("table5_2", ["sp-max", "bin", "pool-5"]),
])
def test_other_detection_tables_and_their_demo_comparisons(smoke_run, name, rows):
    table = _read(smoke_run, name)
    assert table.index.tolist() == rows
    assert table.columns.tolist() == load_reference_table(name).columns.tolist()
    values = table.to_numpy()
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 100)).all()
    compare = pd.read_csv(smoke_run / f"results/tables/{name}.compare.csv")
    assert set(compare["run"]) == {"demo"} and len(compare) == values.size


def test_table2_2_and_4_2_reuse_the_per_layer_detections(smoke_run):
    t23, t22, t42, t52 = (_read(smoke_run, n) for n in ("table2_3", "table2_2", "table4_2",
                                                        "table5_2"))
    assert t22.iloc[0, :3].tolist() == t23.loc[["17", "17-ft", "17-fc-ft"], "mAP"].tolist()
    pd.testing.assert_series_equal(t42.loc["17(full)"], t23.loc["17-ft"], check_names=False)
    pd.testing.assert_series_equal(t52.loc["pool-5"], t23.loc["15-ft"], check_names=False)
