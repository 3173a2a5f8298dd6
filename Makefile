# siting: two commands do all set-up on a machine with python3 and make.
#   make run   - create .venv, validate and summarise the embedded demo study areas
#   make test  - create .venv, run ruff, mypy and pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: help venv test lint typecheck pytest run bench data clean lock

help:
	@echo "make run    - set up .venv, validate and summarise the embedded demo study areas"
	@echo "make test   - set up .venv, run ruff, mypy and pytest"
	@echo "make bench  - run the benchmarks against spopt / networkx (installs the bench extras)"
	@echo "make data   - rebuild gis_data/*.gpkg from gis_data/raw (seeded, deterministic)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check siting api tests benchmarks
	$(BIN)/ruff format --check siting api

typecheck: $(STAMP)
	$(BIN)/mypy siting api

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

run: $(STAMP)
	$(BIN)/siting demo info

data: $(STAMP)
	$(BIN)/siting demo build

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

lock:
	rm -rf /tmp/siting-lock && $(PYTHON) -m venv /tmp/siting-lock
	/tmp/siting-lock/bin/pip install --quiet --upgrade pip
	/tmp/siting-lock/bin/pip install --quiet -e '.[dev,bench]'
	/tmp/siting-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
