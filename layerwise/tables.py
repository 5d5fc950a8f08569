"""The thesis' tables from per-experiment results, and their comparison with it (SPEC §9, §10).

Tables keep the thesis' layout: the same row and column labels (taken from the transcribed
reference, `reference/agrawal2014/`), numbers in percent, plus any rows or columns the project adds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerwise.reference import load_reference_table

LAYERS = ("pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7")


def layer_labels(reference: pd.DataFrame) -> dict[str, str]:
    """Our layer names -> the thesis' row labels of a per-layer table (e.g. conv3 -> relu-3),
    whose rows list the seven layers in network order."""
    if len(reference) != len(LAYERS):
        raise ValueError(f"expected {len(LAYERS)} layer rows, found {len(reference)}")
    return dict(zip(LAYERS, reference.index))


def per_layer_table(values: dict[tuple[str, str], float], columns: list[str], name: str
                    ) -> pd.DataFrame:
    """A layers x columns table of `values[(layer, column)]` in the layout of thesis table `name`."""
    reference = load_reference_table(name)
    labels = layer_labels(reference)
    rows = [[labels[layer]] + [values.get((layer, c), np.nan) for c in columns] for layer in LAYERS]
    return pd.DataFrame(rows, columns=[reference.index.name or "layer", *columns])


def compare(table: pd.DataFrame, name: str, run: str, column_map: dict | None = None
            ) -> pd.DataFrame:
    """Long-format comparison with thesis table `name`: one row per reproduced cell, with the
    thesis' value ("-" where it has none), ours and the difference. `run` labels the numbers
    ("demo" for the demo world: never the thesis' numbers). `column_map` pairs our columns with
    differently named thesis columns (the demo's last snapshot with the thesis' 310K)."""
    reference = load_reference_table(name)
    ours = table.set_index(table.columns[0])
    column_map = column_map or {}
    rows = []
    for row in ours.index:
        for column in ours.columns:
            value = ours.at[row, column]
            theirs = column_map.get(column, column)
            thesis = reference.at[row, theirs] if (row in reference.index
                                                   and theirs in reference.columns) else np.nan
            rows.append({"run": run, "row": row, "column": column, "thesis_column": theirs,
                         "thesis": "-" if pd.isna(thesis) else float(thesis),
                         "reproduced": value,
                         "delta": np.nan if pd.isna(thesis) or pd.isna(value) else value - thesis})
    return pd.DataFrame(rows)


def detection_table(aps: dict[str, np.ndarray], name: str) -> pd.DataFrame:
    """Rows of per-class detection AP in the layout of thesis table `name` (2.3, 4.2, 5.2).

    aps: row label -> the 20 class APs in percent, in VOC devkit order (the order of the
    thesis' abbreviated class columns). The last column is their mean, the mAP; an undefined
    class AP (NaN) makes the mAP NaN rather than a mean over fewer classes.
    """
    reference = load_reference_table(name)
    classes = list(reference.columns[:-1])
    rows = []
    for label, ap in aps.items():
        ap = np.asarray(ap, dtype=float)
        if ap.shape != (len(classes),):
            raise ValueError(f"{name} row {label}: {ap.shape[0]} APs for {len(classes)} classes")
        rows.append([label, *ap, ap.mean()])
    return pd.DataFrame(rows, columns=[reference.index.name, *reference.columns])


def row_table(values: dict[str, float], name: str) -> pd.DataFrame:
    """A one-row thesis table (Table 2.2) from {column: value}; the row keeps the thesis'
    label and the columns follow its order."""
    reference = load_reference_table(name)
    if len(reference) != 1 or set(values) != set(reference.columns):
        raise ValueError(f"{name}: expected one row with columns {list(reference.columns)}")
    row = [reference.index[0]] + [values[c] for c in reference.columns]
    return pd.DataFrame([row], columns=[reference.index.name, *reference.columns])
