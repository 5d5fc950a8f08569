"""End to end: Tables 4.1, 5.1 and 2.4 from the smoke run, and their comparisons (SPEC §9, §10)."""

import numpy as np
import pandas as pd
import pytest

from layerwise.reference import load_reference_table

TABLES = ["table4_1", "table5_1", "table2_4"]


@pytest.mark.parametrize("name", TABLES)
def test_table_has_the_thesis_labels_and_percentages(smoke_run, name):
    table = pd.read_csv(smoke_run / f"results/tables/{name}.csv", dtype={0: str})
    reference = load_reference_table(name)
    assert table.iloc[:, 0].tolist() == reference.index.tolist()
    values = table.iloc[:, 1:].to_numpy(float)
    assert np.isfinite(values).all()
    assert ((values > 0) & (values <= 100)).all()
    assert len(np.unique(values)) > 1


def test_table4_1_columns_are_iteration_zero_and_every_snapshot(smoke_run):
    table = pd.read_csv(smoke_run / "results/tables/table4_1.csv")
    assert table.columns.tolist() == ["Layer", "0", "10", "20", "40"]  # smoke.yaml's snapshots


def test_table5_1_and_2_4_columns_follow_the_thesis(smoke_run):
    for name in ("table5_1", "table2_4"):
        table = pd.read_csv(smoke_run / f"results/tables/{name}.csv")
        assert table.columns[1:].tolist() == load_reference_table(name).columns.tolist()


@pytest.mark.parametrize("name", TABLES)
def test_comparison_is_labelled_demo_and_its_deltas_add_up(smoke_run, name):
    compare = pd.read_csv(smoke_run / f"results/tables/{name}.compare.csv")
    assert compare.columns.tolist() == ["run", "row", "column", "thesis_column", "thesis",
                                        "reproduced", "delta"]
    assert set(compare["run"]) == {"demo"}
    known = compare[compare["thesis"] != "-"]
    assert len(known) > 0
    np.testing.assert_allclose(known["reproduced"] - known["thesis"].astype(float),
                               known["delta"], atol=0.011)
    assert compare.loc[compare["thesis"] == "-", "delta"].isna().all()


def test_table_mean_is_the_mean_of_the_class_aps(smoke_run):
    per_class = pd.read_csv(smoke_run / "results/analysis/classification/alexnet/gtboxes/unroll.csv")
    table = pd.read_csv(smoke_run / "results/tables/table2_4.csv")
    expected = per_class.groupby("layer", sort=False)["ap"].mean().round(1).tolist()
    assert table["A-Net"].tolist() == expected


def test_table4_1_compares_the_last_snapshot_with_the_thesis_final_network(smoke_run):
    compare = pd.read_csv(smoke_run / "results/tables/table4_1.compare.csv",
                          dtype={"column": str})
    known = compare[compare["thesis"] != "-"]
    assert set(known["column"]) == {"40"} and set(known["thesis_column"]) == {"310K"}
    assert len(known) == 7
