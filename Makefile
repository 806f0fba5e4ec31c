# Entry points: `make run` (the embedded default end to end) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench stack-start stack-stop clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[stack,dev]'
	touch $(STAMP)

## Generate AWS, Azure, GCP and OpenShift reports, ingest them on the local stack, print totals.
run: install
	$(VENV)/bin/costpipe run

## Unit and integration tests; the tests start the local stack they need.
test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check shared services tests deploy
	$(VENV)/bin/ruff format --check shared services tests deploy
	$(VENV)/bin/mypy

## Benchmark costpipe against the CSV read limit and a pandas baseline; rewrites docs/benchmarks.md.
bench: install
	$(PY) -m pip install --quiet -e '.[stack,dev,bench]'
	$(PY) bench/run.py

stack-start: install
	$(PY) deploy/stack/stack.py start

stack-stop:
	$(PY) deploy/stack/stack.py stop

clean:
	-$(PY) deploy/stack/stack.py stop --purge
	rm -rf $(VENV) .stack
