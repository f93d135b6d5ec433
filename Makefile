# Rapport: `make demo` runs the main job, `make test` the tests. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-launchers ray-env bench dashboard screenshot docs validation calibration studies baseline mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dashboard,parallel,sweepers,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rapport

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# Sweeps through Submitit and Ray (slow, not part of `make test`).
test-launchers: $(STAMP)
	$(BIN)/python -m pytest -q -m launchers

# Ray's Hydra launcher pins cloudpickle 2.2, which joblib 1.6 refuses: it gets its own venv.
ray-env: .venv-ray/.installed
.venv-ray/.installed: pyproject.toml
	test -x .venv-ray/bin/python || $(PYTHON) -m venv .venv-ray
	.venv-ray/bin/python -m pip install --quiet -e . hydra-ray-launcher
	touch $@

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

dashboard: $(STAMP)
	$(BIN)/rapport dashboard

baseline: $(STAMP)
	$(BIN)/python -m sim.regression --refresh

# Mutation testing of sim/mechanisms/ with cosmic-ray (config: cosmic-ray.toml); see docs/mutation.md.
# MUTANTS=N [SEED=S] runs a random sample of N mutants, stratified by module (the full run takes about an hour).
mutation: $(STAMP)
	rm -f .mutation.sqlite
	$(BIN)/cosmic-ray init cosmic-ray.toml .mutation.sqlite
	$(BIN)/cr-filter-operators .mutation.sqlite cosmic-ray.toml
	$(BIN)/python tests/mutation_filter.py .mutation.sqlite $(if $(MUTANTS),--sample $(MUTANTS) --seed $(or $(SEED),0))
	$(BIN)/cosmic-ray exec cosmic-ray.toml .mutation.sqlite
	$(BIN)/cr-report --show-pending .mutation.sqlite | tail -n 3

docs: $(STAMP)
	$(BIN)/python -c 'from sim.params import write_markdown_table; write_markdown_table("docs/model.md")'

# The validation section of docs/model.md: the model against configs/targets/published.yaml.
VALIDATION ?= customers=10000 horizon_weeks=260 replications=5
validation: $(STAMP)
	$(BIN)/rapport validate $(VALIDATION) docs=docs/model.md

clean:
	rm -rf $(VENV) .venv-ray .pytest_cache

screenshot: $(STAMP)
	RAPPORT_SCREENSHOT=docs/dashboard.png $(BIN)/python -m pytest -q -m browser tests/test_dashboard.py

# The shipped defaults of the calibrated parameters (configs/calibrated.yaml, read by sim/params.py):
# `rapport calibrate` against configs/targets/published.yaml. Takes about half an hour on 2 cores.
CALIBRATION ?= params=attention_email,visit_rate,unsubscribe_rate,rival_pull,replacement_weeks,service_pull,service_age_decline,pareto_alpha trials=60 restarts=3 replications=3 customers=8000 horizon_weeks=260 polish=9 confirm=8 confirm_replications=6 profile=9 start=configs/calibration-start.yaml
calibration: $(STAMP)
	$(BIN)/rapport calibrate $(CALIBRATION) defaults=configs/calibrated.yaml

# docs/verdict.md: profit against contact frequency, and the ranking under plausible regimes (sim/studies.py).
STUDIES ?= customers=10000 seeds=5 weeks=260
studies: $(STAMP)
	$(BIN)/python -m sim.studies $(STUDIES)
