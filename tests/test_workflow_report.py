"""The HTML report of the smoke run (SPEC §12; issue 7): every table and figure the run built is in
it, under its thesis chapter, with a caption that names the config; a table's caption renders the
table and, where the thesis has one, the comparison with it."""

import json
import os
import re
import shutil

from conftest import REPO, SMOKE_TARGETS
from workflow import snakemake

# Hand-checked categories of outputs every smoke run builds.
CHAPTER_OF = {
    "results/tables/table4_1.csv": "4 How do the layers train over time?",
    "results/tables/table5_1.csv": "5 Location or magnitude of activation?",
    "results/tables/table2_4.csv": "2 What happens during fine-tuning?",
}


def report_data(html):
    """The report's `results` ({path: entry with its caption}) and `categories` tables."""
    data = {}
    for name in ("results", "categories"):
        found = re.search(rf"^\s*var {name} = (\{{.*\}});$", html, re.MULTILINE)
        data[name] = json.loads(found.group(1))
    return data


def test_the_report_holds_every_table_and_figure_with_its_caption(smoke_run, tmp_path):
    work = tmp_path / "work"
    # Hard links: the report only reads the run's files.
    shutil.copytree(smoke_run, work, symlinks=True, copy_function=os.link,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "report", work / "report", dirs_exist_ok=True)
    code, out = snakemake(work, "--report", "report.html", *SMOKE_TARGETS,
                          "--configfile", "configs/smoke.yaml")
    assert code == 0, out[-3000:]
    data = report_data((work / "report.html").read_text())

    built = {p.relative_to(work).as_posix() for p in (work / "results" / "tables").glob("*.csv")
             if not p.name.endswith(".compare.csv")}
    built |= {p.relative_to(work).as_posix() for p in (work / "results").glob("figures/*.png")}
    assert set(data["results"]) == built

    category_of = {path: category for category, subcategories in data["categories"].items()
                   for paths in subcategories.values() for path in paths}
    assert {path: category_of[path] for path in CHAPTER_OF} == CHAPTER_OF
    for path, entry in data["results"].items():
        caption = entry["caption"]
        assert "<strong>demo</strong>" in caption, path
        if path.endswith(".csv"):
            assert "<table" in caption, path
            if os.path.exists(work / path.replace(".csv", ".compare.csv")):
                assert "Thesis vs reproduced (demo" in caption, path
