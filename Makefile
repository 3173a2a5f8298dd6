# siting: two commands do all set-up on a machine with python3 and make.
#   make run   - create .venv, run the demo scenarios into runs/ with reports, serve the API and reports on localhost
#   make test  - create .venv, run ruff, mypy, pytest and the notebooks
PYTHON ?= python3
PORT   ?= 8000
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: help venv test lint typecheck pytest run bench data clean lock

help:
	@echo "make run    - set up .venv, run the demo scenarios, write their reports, serve the API (PORT=8000)"
	@echo "make test   - set up .venv, run ruff, mypy, pytest and execute the notebooks (nbmake)"
	@echo "make bench  - run the benchmarks against spopt / networkx (installs the bench extras)"
	@echo "make data   - rebuild gis_data/*.gpkg from gis_data/raw (seeded, deterministic)"

# dev = the core + the api, dask and notebooks extras + the test and lint tools
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

# ruff (imports inside functions flagged: PLC0415) and the import-linter contracts of docs/architecture.md
lint: $(STAMP)
	$(BIN)/ruff check siting api tests benchmarks
	$(BIN)/ruff format --check siting api tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy siting api

# both cores (pytest-xdist); slow tests (> 10 s, marked) run too. The PostgreSQL tests share one
# database, so they run in one process after the others.
pytest: $(STAMP)
	$(BIN)/pytest -n auto -m "not postgres"
	$(BIN)/pytest -m postgres
	@# the planner notebooks, each on a fresh kernel (outputs stay stripped in git: tests/notebooks)
	$(BIN)/pytest -n auto --nbmake --nbmake-timeout=300 -p no:randomly notebooks

test: lint typecheck pytest

run: $(STAMP)
	$(BIN)/siting demo info
	@# two scenarios at a time (each solve is single-threaded); every run folder appears whole or not at all
	@ls scenarios/*.yaml | xargs -P 2 -I{} sh -c '$(BIN)/siting run "{}" --out "runs/$$(basename "{}" .yaml)"'
	$(BIN)/siting compare runs/red_stations_300m runs/red_stations_500m runs/red_stations_1000m \
		--out runs/compare-radii
	@echo "Reports (they open offline, straight from disk):"
	@for r in runs/*/report.html; do echo "  $$r"; done
	@# last: the API with the demos preloaded, a fresh key, a sample request, and the reports at /reports/
	$(BIN)/siting serve --demo --reports runs --host 127.0.0.1 --port $(PORT)

data: $(STAMP)
	$(BIN)/siting demo build

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

lock:
	rm -rf /tmp/siting-lock && $(PYTHON) -m venv /tmp/siting-lock
	/tmp/siting-lock/bin/pip install --quiet --upgrade pip
	/tmp/siting-lock/bin/pip install --quiet -e '.[dev,bench]'
	/tmp/siting-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

# build/: pip builds in the checkout, and setuptools puts what an earlier build left there into the next wheel
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
