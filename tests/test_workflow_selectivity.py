"""End to end: the selectivity stage on the smoke run (thesis §2-4; SPEC §9): per-filter entropy
CSVs, Tables 2.1 and 3.1 with their comparisons, and the figures of chapters 2-4."""

import math

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from layerwise.analysis.selectivity import METHODS, filter_entropies, table2_1_row
from layerwise.data.voc import VOC_CLASSES
from layerwise.reference import load_reference_table
from layerwise.tables import LAYERS
from workflow import copy_workflow, snakemake

NETS = ["alexnet", "ft"]
FIGURES = ["fig2_1", "fig2_2", "fig3_1", "fig3_2", "fig3_4", "fig3_5", "fig4_1"]


def entropy_csv(run, net, layer):
    return pd.read_csv(run / f"results/analysis/entropy/{net}/{layer}.csv")


@pytest.mark.parametrize("net", NETS)
def test_entropy_csv_per_layer_covers_every_filter(smoke_run, net):
    for layer in LAYERS:
        table = entropy_csv(smoke_run, net, layer)
        assert table.columns.tolist() == ["filter", "aue_label", "aue_weighted", "aue_spmax",
                                          "dead"]
        with h5py.File(smoke_run / f"results/features/{net}/voc07_test_gtboxes/{layer}.h5") as f:
            assert table["filter"].tolist() == list(range(f["features"].shape[1]))
        aue = table[["aue_label", "aue_weighted", "aue_spmax"]].to_numpy()
        assert ((aue >= 0) & (aue <= math.log2(len(VOC_CLASSES)) + 1e-9)).all()
        assert table["dead"].dtype == bool


def test_entropy_csv_is_recomputed_from_the_features_file_alone(smoke_run):
    T = yaml.safe_load((smoke_run / "config.yaml").read_text())["selectivity"]["thresholds"]
    with h5py.File(smoke_run / "results/features/ft/voc07_test_gtboxes/pool5.h5") as f:
        expected = filter_entropies(f["features"][:], f["labels"][:], len(VOC_CLASSES), T=T)
    table = entropy_csv(smoke_run, "ft", "pool5")
    for column in ("aue_label", "aue_weighted", "aue_spmax", "dead"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-12)


def test_table2_1_layout_values_and_comparison(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/table2_1.csv")
    reference = load_reference_table("table2_1")
    assert table["Layer"].tolist() == reference.index.tolist()
    assert table.columns[1:].tolist() == reference.columns.tolist()
    assert np.isfinite(table.iloc[:, 1:].to_numpy(float)).all()
    # eq. 2.1 from the per-filter CSVs, for one layer
    a, ft = entropy_csv(smoke_run, "alexnet", "fc6"), entropy_csv(smoke_run, "ft", "fc6")
    row = table2_1_row({k: a[f"aue_{k}"] for k in METHODS}, {k: ft[f"aue_{k}"] for k in METHODS})
    got = table.set_index("Layer").loc["relu-6"]
    np.testing.assert_allclose([got[c] for c in row], [round(v, 2) for v in row.values()])
    # fc layers have one position per box: label and spMax-label entropy coincide (Table 2.1)
    for f in ("0.1", "0.25", "0.5", "1.0"):
        assert got[f"Label-Entropy {f}"] == got[f"spMax-Label-Entropy {f}"]
    compare = pd.read_csv(smoke_run / "results/tables/table2_1.compare.csv")
    assert set(compare["run"]) == {"demo"} and len(compare) == 7 * 12


def test_table3_1_counts_lie_in_the_clipped_sweep(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/table3_1.csv").set_index("Net AP")
    reference = load_reference_table("table3_1")
    assert table.index.tolist() == reference.index.tolist()
    assert table.columns.tolist() == reference.columns.tolist()
    subsets = pd.read_csv(smoke_run / "results/analysis/units/ft/subset_ap.csv")
    ks = sorted(subsets["k"].unique())
    with h5py.File(smoke_run / "results/features/ft/voc07_test_gtboxes/pool5.h5") as f:
        width = f["features"].shape[1]
    assert ks[-1] == width and set(ks) <= {min(k, width) for k in
                                           [1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 80,
                                            100, 128, 256]}
    assert set(np.unique(table.to_numpy())) <= set(ks)
    for net in ("AN", "FT"):
        assert (table.loc[f"{net} 50"] <= table.loc[f"{net} 90"]).all()
    # FT 90 for one class, by hand from the per-k APs
    aero = subsets[subsets["class"] == "aeroplane"].sort_values("k")
    full = aero["ap"].iloc[-1]
    assert table.loc["FT 90", "aero"] == aero.loc[aero["ap"] >= 0.9 * full, "k"].iloc[0]
    compare = pd.read_csv(smoke_run / "results/tables/table3_1.compare.csv")
    assert set(compare["run"]) == {"demo"} and len(compare) == 4 * 20


def test_subset_ranking_lists_every_filter_by_weight(smoke_run):
    ranking = pd.read_csv(smoke_run / "results/analysis/units/alexnet/ranking.csv")
    for _, group in ranking.groupby("class"):
        group = group.sort_values("rank")
        assert sorted(group["filter"]) == list(range(len(group)))
        weights = group["weight"].abs().to_numpy()
        assert (np.diff(weights) <= 0).all()


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_written_as_png_and_pdf(smoke_run, name):
    png = (smoke_run / f"results/figures/{name}.png").read_bytes()
    pdf = (smoke_run / f"results/figures/{name}.pdf").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000


def test_fig4_1_snapshot_must_be_kept(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text("selectivity:\n  fig4_1_snapshots: [15]\n")
    code, out = snakemake(workdir, "-n", "results/figures/fig4_1.png", "--configfile",
                          "configs/smoke.yaml", "bad.yaml")
    assert code != 0
    assert "selectivity.fig4_1_snapshots" in out and "15" in out
