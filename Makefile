# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 8

.PHONY: demo test setup setup-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test

demo: setup
	$(BIN)/snakemake --cores $(CORES) --resources gpu=1 $(TARGET)
	$(BIN)/snakemake --cores 1 --report results/report.html $(TARGET)

test: setup-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/snakemake --lint

clean:
	rm -rf results resources .snakemake
