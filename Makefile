# `make test` and `make demo` work on a fresh clone with only Python and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install test lint typecheck pytest demo bench clean

help:
	@echo "make demo   set up .venv and run the main example"
	@echo "make test   set up .venv and run ruff, mypy --strict and pytest"
	@echo "make bench  run the executor benchmark (JSON report)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/toolvolley demo

bench: $(STAMP)
	$(BIN)/python benchmarks/executor.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
