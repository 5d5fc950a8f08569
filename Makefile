# The front door (README): `make run` and `make test` each set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The main job (SPEC §2): the thesis' Table 2.3, detection AP per layer, and all it needs.
TARGET ?= results/tables/table2_3.csv

.PHONY: setup run test lint bench drill

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(STAMP)

run: setup
	$(VENV)/bin/snakemake -j4 $(TARGET)

test: setup
	$(PY) -m pytest -q tests

# SPEC §13: `snakemake --lint` clean, rules formatted by snakefmt (settings in pyproject.toml).
lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile rules

# SPEC §14: every performance figure, measured in /tmp/layerwise-bench, written to BENCHMARKS.md.
bench: setup
	$(PY) benchmarks/run.py

# SPEC §15: kill -9 and resume, bad inputs, unsafe checkpoints, odd paths; prints a table.
drill: setup
	$(PY) drill/run.py --out drill/RESULTS.md
