# Rapport: `make demo` runs the main job, `make test` the tests. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench dashboard docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dashboard,parallel,sweepers,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rapport

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

dashboard: $(STAMP)
	$(BIN)/rapport dashboard

docs: $(STAMP)
	$(BIN)/python -c 'from sim.params import write_markdown_table; write_markdown_table("docs/model.md")'

clean:
	rm -rf $(VENV) .pytest_cache
