# `make test` and `make demo` work on a fresh clone with only Python and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

.PHONY: help install test lint typecheck pytest demo bench peers clean

help:
	@echo "make demo   set up .venv and run the main example"
	@echo "make test   set up .venv and run ruff, mypy --strict and pytest"
	@echo "make bench  run the benchmarks (toolvolley bench)"
	@echo "make peers  compare with LangGraph, the OpenAI Agents SDK and Pydantic AI"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# BFCL's multi-turn backends for tests/test_side_effects_bfcl.py; --no-deps skips its model SDKs
	$(BIN)/python -m pip install --quiet --no-deps 'bfcl-eval==2026.3.23' && $(BIN)/python -m pip install --quiet 'mpmath>=1.3'
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
	$(BIN)/toolvolley bench

# The frameworks compared with live in their own environment, never in the library's.
$(PEERS_STAMP): pyproject.toml benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -e '.[cli]' -r benchmarks/peers/requirements.txt
	touch $(PEERS_STAMP)

peers: $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python benchmarks/peers/run.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) .mypy_cache .pytest_cache .ruff_cache
