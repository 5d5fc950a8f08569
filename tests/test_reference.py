"""The transcribed thesis tables (reference/agrawal2014/, SPEC §10) against the thesis text."""

import csv
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from layerwise.reference import (
    REFERENCE_DIR,
    TABLE_NAMES,
    VOC_SHORT_NAMES,
    load_reference_table,
    split_column_groups,
)

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seeds" / "001_31afb407858961cc.txt"

CLASSES = list(VOC_SHORT_NAMES.values())
LAYERS = ["pool-1", "pool-2", "relu-3", "relu-4", "pool-5", "relu-6", "relu-7"]
LAYERS_CONV = ["pool-1", "pool-2", "conv-3", "conv-4", "pool-5", "relu-6", "relu-7"]
ENTROPY = ["Label-Entropy", "Weighted-Label-Entropy", "spMax-Label-Entropy"]
FRACTIONS = ["0.1", "0.25", "0.5", "1.0"]
DETECTION = ["detection(mAP) " + n for n in ("alex-net", "ft-net", "fc-ft")]
SUN = ["sun-397 (accuracy) " + n for n in ("alex-net", "ft-net", "fc-ft")]

# (first-column header, row labels, value columns) of each CSV, as the README documents them.
LAYOUT = {
    "table2_1": ("Layer", LAYERS, [f"{m} {f}" for m in ENTROPY for f in FRACTIONS]),
    "table2_2": ("Layer", ["relu-7"], DETECTION + SUN),
    "table2_3": (
        "layer",
        ["15", "15-ft", "16-ft", "16-fc-ft", "17", "17-ft", "17-fc-ft"],
        CLASSES + ["mAP"],
    ),
    "table2_4": ("Layer", LAYERS, ["A-Net", "FT", "FC-FT"]),
    "table3_1": ("Net AP", ["AN 50", "FT 50", "AN 90", "FT 90"], CLASSES),
    "table4_1": (
        "Layer",
        LAYERS_CONV,
        ["5K", "15K", "25K", "35K", "45K", "95K", "105K", "310K"],
    ),
    "table4_2": (
        "Feature",
        ["15(50-50)", "15(full)", "17(50-50)", "17(full)"],
        CLASSES + ["mAP"],
    ),
    "table5_1": ("layer", LAYERS_CONV, ["unroll", "sp-shuffle", "sp-max", "sp-max-bin", "bin"]),
    "table5_2": ("Feature", ["sp-max", "bin", "pool-5"], CLASSES + ["mAP"]),
}

# Cells read by eye from the thesis (printed strings), at least two per table, spread over the
# corners and the multi-part headers where a transcription slip is most likely.
SPOT_CHECKS = [
    ("table2_1", "pool-1", "Label-Entropy 0.1", "-0.02"),
    ("table2_1", "relu-4", "Weighted-Label-Entropy 0.1", "-0.10"),
    ("table2_1", "relu-7", "Weighted-Label-Entropy 1.0", "7.78"),
    ("table2_1", "pool-5", "spMax-Label-Entropy 0.25", "3.05"),
    ("table2_2", "relu-7", "detection(mAP) alex-net", "45.5"),
    ("table2_2", "relu-7", "sun-397 (accuracy) fc-ft", "56.2"),
    ("table2_3", "15", "aero", "51.9"),
    ("table2_3", "16-fc-ft", "table", "49.5"),
    ("table2_3", "17-fc-ft", "mAP", "53.3"),
    ("table2_4", "pool-1", "A-Net", "43.2"),
    ("table2_4", "relu-4", "FT", "77.8"),
    ("table2_4", "relu-6", "FC-FT", "81.96"),
    ("table2_4", "relu-7", "FC-FT", "83.44"),
    ("table3_1", "AN 50", "aero", "15"),
    ("table3_1", "FT 90", "cow", "50"),
    ("table3_1", "AN 90", "sofa", "100"),
    ("table4_1", "pool-1", "5K", "23.0"),
    ("table4_1", "conv-3", "105K", "51.6"),
    ("table4_1", "relu-7", "310K", "73.2"),
    ("table4_2", "15(50-50)", "aero", "52.5"),
    ("table4_2", "15(full)", "bottle", "29.0"),
    ("table4_2", "17(50-50)", "mAP", "50.5"),
    ("table5_1", "pool-1", "sp-max-bin", "9.0"),
    ("table5_1", "relu-7", "unroll", "73.6"),
    ("table5_1", "relu-6", "sp-shuffle", "-"),
    ("table5_2", "sp-max", "plant", "7.0"),
    ("table5_2", "bin", "mAP", "45.7"),
]

NUMBER = re.compile(r"-?\d+(\.\d+)?")


def read_raw(name):
    """The CSV as text: header and rows, exactly as stored."""
    with open(REFERENCE_DIR / f"{name}.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def raw_cell(name, row, column):
    header, rows = read_raw(name)
    (match,) = [r for r in rows if r[0] == row]
    return match[header.index(column)]


# --- reading the thesis text -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_lines():
    if not SEED.is_file():
        pytest.skip(f"thesis text not found at {SEED} (the shared/ folder sits beside the repo)")
    return SEED.read_text(encoding="utf-8").split("\n")


def printed_block(lines, number):
    """The tab-separated lines of thesis Table `number`, split into cells: the block of
    non-empty lines that follows the caption "Table <number>:"."""
    (start,) = [i for i, line in enumerate(lines) if line.startswith(f"Table {number}:")]
    i = start + 1
    while not lines[i].strip():
        i += 1
    block = []
    while lines[i].strip():
        assert "\t" in lines[i], f"line {i + 1} of Table {number} is not tab-separated"
        block.append(lines[i].split("\t"))
        i += 1
    return block


def grouped_header(top, sub):
    """Flatten a two-row header (group label above its first sub-column) the way the CSVs do."""
    group, names = None, []
    for g, s in zip(top[1:], sub[1:]):
        group = g or group
        names.append(f"{group} {'1.0' if s == '1' else s}")
    return names


def printed_cells(lines, name):
    """{(row label, column label): printed string} for one thesis table, in the CSV's labels."""
    number = name.removeprefix("table").replace("_", ".")
    block = printed_block(lines, number)
    if name in ("table2_1", "table2_2"):
        columns, rows = grouped_header(block[0], block[1]), block[2:]
    elif name == "table2_4":
        return table2_4_cells(block)
    else:
        columns, rows = block[0][1:], block[1:]
    cells = {}
    for row in rows:
        assert len(row) == len(columns) + 1, row
        label = row[0].replace(" ", "") if name == "table4_2" else row[0]
        cells.update({(label, c): v for c, v in zip(columns, row[1:])})
    return cells


def table2_4_cells(block):
    """Table 2.4 is printed as four side-by-side (Layer, A-Net, FT[, FC-FT]) blocks."""
    header, cells = block[0], {}
    starts = [i for i, h in enumerate(header) if h == "Layer"]
    for lo, hi in zip(starts, starts[1:] + [len(header)]):
        for row in block[1:]:
            if row[lo] != "-":
                cells.update({(row[lo], header[j]): row[j] for j in range(lo + 1, hi)})
    return cells


# --- against the thesis text -------------------------------------------------------------------


@pytest.mark.parametrize("name,row,column,printed", SPOT_CHECKS)
def test_spot_checks_match_thesis_and_csv(seed_lines, name, row, column, printed):
    assert printed_cells(seed_lines, name)[(row, column)] == printed
    assert raw_cell(name, row, column) == ("" if printed == "-" else printed)


def test_spot_checks_cover_every_table():
    counts = pd.Series([name for name, *_ in SPOT_CHECKS]).value_counts()
    assert set(counts.index) == set(TABLE_NAMES)
    assert counts.min() >= 2


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_cell_equals_the_printed_string(seed_lines, name):
    printed = printed_cells(seed_lines, name)
    header, rows = read_raw(name)
    stored = {(r[0], c): v for r in rows for c, v in zip(header[1:], r[1:])}
    # "-" and cells the thesis leaves out (Table 2.4's FC-FT for layers 1-5) are stored empty.
    not_printed = {(layer, "FC-FT") for layer in LAYERS[:5]} if name == "table2_4" else set()
    assert stored.keys() - printed.keys() == not_printed
    expected = {k: ("" if v == "-" else v) for k, v in printed.items()}
    assert stored == {**expected, **{k: "" for k in not_printed}}


# --- shape and parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_layout(name):
    first, rows, columns = LAYOUT[name]
    header, body = read_raw(name)
    assert header == [first] + columns
    assert [r[0] for r in body] == rows
    table = load_reference_table(name)
    assert table.shape == (len(rows), len(columns))
    assert list(table.index) == rows


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_value_cell_is_a_number_or_empty(name):
    _, rows = read_raw(name)
    for row in rows:
        for cell in row[1:]:
            assert cell == "" or NUMBER.fullmatch(cell), (name, row[0], cell)
    table = load_reference_table(name)
    assert all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes)


def test_empty_cells_are_exactly_where_the_thesis_has_no_value():
    assert load_reference_table("table2_4")["FC-FT"].isna().tolist() == [True] * 5 + [False] * 2
    empty = load_reference_table("table5_1").isna().stack()
    assert sorted(empty[empty].index.tolist()) == sorted(
        [(layer, "sp-max-bin") for layer in ("pool-2", "conv-3", "conv-4", "relu-6", "relu-7")]
        + [(layer, c) for layer in ("relu-6", "relu-7") for c in ("sp-shuffle", "sp-max")]
    )
    others = [n for n in TABLE_NAMES if n not in ("table2_4", "table5_1")]
    assert not any(load_reference_table(n).isna().any().any() for n in others)


# --- the thesis' own cross-references (documented in the README) ----------------------------------


@pytest.mark.parametrize("name", ["table2_3", "table4_2", "table5_2"])
def test_map_is_the_mean_of_the_class_aps(name):
    table = load_reference_table(name)
    # Each AP and the mAP are rounded to 0.1, so the mean of the printed APs may be 0.1 off.
    assert ((table[CLASSES].mean(axis=1) - table["mAP"]).abs() <= 0.1 + 1e-9).all()


def test_tables_that_repeat_the_same_networks_agree():
    t23, t42, t52 = (load_reference_table(n) for n in ("table2_3", "table4_2", "table5_2"))
    pd.testing.assert_series_equal(t42.loc["15(full)"], t23.loc["15-ft"], check_names=False)
    pd.testing.assert_series_equal(t42.loc["17(full)"], t23.loc["17-ft"], check_names=False)
    pd.testing.assert_series_equal(t52.loc["pool-5"], t23.loc["15-ft"], check_names=False)
    t22 = load_reference_table("table2_2").loc["relu-7"]
    assert t22[DETECTION].tolist() == t23.loc[["17", "17-ft", "17-fc-ft"], "mAP"].tolist()


def test_label_and_spmax_entropy_agree_for_fc_layers():
    # Caption of Table 2.1: relu-6/7 have 1x1 maps, so the two methods coincide there.
    table = split_column_groups(load_reference_table("table2_1"))
    fc = table.loc[["relu-6", "relu-7"]]
    assert fc["Label-Entropy"].equals(fc["spMax-Label-Entropy"])
    pool5 = table.loc["pool-5"]
    # pool-5 has 6x6 maps, so the methods differ; this keeps the check above from being vacuous.
    assert not pool5["Label-Entropy"].equals(pool5["spMax-Label-Entropy"])


def test_filter_counts_are_subset_sizes_and_90_needs_at_least_50():
    table = load_reference_table("table3_1")
    sizes = {1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 80, 100, 128, 256}  # thesis §3.4
    assert set(table.to_numpy().ravel()) <= sizes
    for net in ("AN", "FT"):
        assert (table.loc[f"{net} 50"] <= table.loc[f"{net} 90"]).all()


def test_table4_1_at_310k_and_table5_1_unroll_differ_only_where_the_readme_says():
    final = load_reference_table("table4_1")["310K"]
    unroll = load_reference_table("table5_1")["unroll"]
    differ = final[final != unroll]
    assert differ.to_dict() == {"pool-2": 45.0, "relu-7": 73.2}
    assert unroll[differ.index].to_dict() == {"pool-2": 44.9, "relu-7": 73.6}


# --- the loader ----------------------------------------------------------------------------------


def test_loader_keeps_row_labels_as_text_and_values_as_printed():
    table = load_reference_table("table2_3")
    assert table.index[0] == "15" and isinstance(table.index[0], str)
    assert table.loc["16-ft", "mAP"] == 53.1
    assert load_reference_table("table3_1").loc["AN 90", "cow"] == 100
    assert math.isnan(load_reference_table("table5_1").loc["relu-6", "sp-max"])


def test_loader_rejects_unknown_tables_and_non_numbers(tmp_path):
    with pytest.raises(KeyError, match="table9_9"):
        load_reference_table("table9_9")
    (tmp_path / "table5_1.csv").write_text("layer,unroll\npool-1,abc\n")
    with pytest.raises(ValueError):
        load_reference_table("table5_1", root=tmp_path)


def test_split_column_groups():
    table = split_column_groups(load_reference_table("table2_2"))
    assert table.columns.get_level_values(0).unique().tolist() == [
        "detection(mAP)",
        "sun-397 (accuracy)",
    ]
    assert table.loc["relu-7", ("sun-397 (accuracy)", "ft-net")] == 56.8
