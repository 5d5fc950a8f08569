"""The thesis' published numbers (Agrawal 2014, Tables 2.1-5.2), for comparison (SPEC §10).

The CSVs live in `reference/agrawal2014/`; their layout and every transcription judgement are
documented in the README there.
"""

from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "agrawal2014"

TABLE_NAMES = (
    "table2_1",
    "table2_2",
    "table2_3",
    "table2_4",
    "table3_1",
    "table4_1",
    "table4_2",
    "table5_1",
    "table5_2",
)

# The thesis abbreviates the VOC devkit class names; the devkit order is kept.
VOC_SHORT_NAMES = {
    "aeroplane": "aero",
    "bicycle": "bike",
    "bird": "bird",
    "boat": "boat",
    "bottle": "bottle",
    "bus": "bus",
    "car": "car",
    "cat": "cat",
    "chair": "chair",
    "cow": "cow",
    "diningtable": "table",
    "dog": "dog",
    "horse": "horse",
    "motorbike": "mbike",
    "person": "person",
    "pottedplant": "plant",
    "sheep": "sheep",
    "sofa": "sofa",
    "train": "train",
    "tvmonitor": "tv",
}


def load_reference_table(name, root=REFERENCE_DIR):
    """Thesis table `name` (e.g. "table2_3" for Table 2.3) as printed.

    The index holds the thesis' row labels as strings (so Table 2.3's "15" stays "15"), the
    columns its column labels, the values its numbers (percent; Table 3.1: filter counts), and
    NaN where the thesis prints "-" or nothing. A cell that is not a number raises ValueError.
    """
    if name not in TABLE_NAMES:
        raise KeyError(f"no thesis table {name!r}; known: {', '.join(TABLE_NAMES)}")
    # Read everything as text first so row labels are never coerced to numbers.
    raw = pd.read_csv(Path(root) / f"{name}.csv", dtype=str, keep_default_na=False)
    table = raw.set_index(raw.columns[0])
    return table.replace("", float("nan")).apply(pd.to_numeric)


def split_column_groups(table):
    """Copy of a Table 2.1 / 2.2 frame with two-level columns (method or task, then sub-column).

    Those tables print a group header above the sub-columns; the CSVs flatten the pair into
    "<group> <sub>" (e.g. "Label-Entropy 0.25", "sun-397 (accuracy) fc-ft"), and the sub-column
    label never contains a space, so the last space separates the two.
    """
    out = table.copy()
    out.columns = pd.MultiIndex.from_tuples(
        [tuple(column.rsplit(" ", 1)) for column in table.columns]
    )
    return out
