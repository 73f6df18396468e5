# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 8

.PHONY: demo showcase test test-fast setup setup-test view lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --group workflow
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q --group test
	touch $@

# OpenSeadragon, the viewer's deep-zoom page library, from the npm registry into the virtual environment (not
# into the repository; the viewer serves it, so no internet is needed at view time). Without npm the setup goes on
# and the viewer says how to install it.
OSD_VERSION := $(shell sed -n 's/^OSD_VERSION = "\(.*\)".*/\1/p' src/slidesnake/view/assets.py)
$(VENV)/.installed-viewer: src/slidesnake/view/assets.py | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(VENV)/share/slidesnake-view --no-save --no-audit --no-fund -s openseadragon@$(OSD_VERSION) \
		&& touch $@ || echo "warning: npm could not install OpenSeadragon: the viewer says how to install it"; \
	else echo "warning: npm not found: the viewer (make view) needs OpenSeadragon and says how to install it"; fi

setup: $(VENV)/.installed $(VENV)/.installed-viewer

setup-test: $(VENV)/.installed-test $(VENV)/.installed-viewer

# The viewer of a run's results on http://127.0.0.1:$(PORT)/ (serves until Ctrl-C).
PORT ?= 8765
RESULTS ?= results
view: setup
	PYTHONPATH=src $(BIN)/python -m slidesnake.view $(RESULTS) --port $(PORT)

# $(TARGET) comes first: --resources (and --configfile) take every word after them, so a target written after
# them is read as a resource (`--resources gpu=1 tiles` fails with "dictionary update sequence element").
demo: setup
	$(BIN)/snakemake $(TARGET) --cores $(CORES) --resources gpu=1
	$(BIN)/snakemake $(TARGET) --cores 1 --report results/report.html

# The full showcase (config/examples/showcase.yaml): the demo plus stain normalisation, the tile classifier, HIPT
# and every MIL model, in results/ like the demo (run `make clean` between the two).
showcase: setup
	$(BIN)/snakemake $(TARGET) --cores $(CORES) --resources gpu=1 --configfile config/examples/showcase.yaml
	$(BIN)/snakemake $(TARGET) --cores 1 --report results/report.html --configfile config/examples/showcase.yaml

# Every tier: the fast unit tests and the end-to-end workflow runs (CI runs exactly this).
test: setup-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast tier only (no Snakemake runs, no slow learning checks), for the edit-test loop.
test-fast: setup-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m "not workflow and not slow" $(PYTEST_ARGS)

lint: setup-test
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check src scripts tests benchmarks tools
	$(BIN)/ruff format --check src scripts tests benchmarks tools

format: setup-test
	$(BIN)/snakefmt Snakefile rules
	$(BIN)/ruff check --fix src scripts tests benchmarks tools
	$(BIN)/ruff format src scripts tests benchmarks tools

clean:
	rm -rf results resources .snakemake
