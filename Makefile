# `make test` and `make demo` work on a fresh clone with only Python and the package registries.
#
# The library keeps open dependency ranges for its users (pyproject.toml); the environments made
# here are locked (uv.lock), so a fresh clone tests exactly what CI tested. `make lock` moves the
# lock to the newest releases on purpose; `make test-latest` runs the checks against them without
# touching the lock, so drift is found before it lands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# uv resolves and installs; it is itself pinned and installed with pip into a venv of its own.
UV_VERSION := 0.13.9
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# BFCL's multi-turn backends for tests/test_side_effects_bfcl.py. Installed without its
# dependencies (model SDKs, torch, faiss ...); what the tests need of them (mpmath) is locked.
BFCL := bfcl-eval==2026.3.23

DEV_STAMP := $(VENV)/.dev-installed

# Python 3.12+, where the machine has it: the tests marked every_runtime once more, there also
# under asyncio's eager task factory (tests/conftest.py). A second locked environment. The first
# of these that runs and is 3.12 or later (a pyenv shim on PATH may exist and fail), looked for
# once and only when needed; `make pytest PYTHON312=/path/to/python3` chooses another.
PYTHON312_TRIED := python3.12 python3.13 python3.14 \
	$(sort $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3))
PYTHON312 ?= $(eval PYTHON312 := $(shell for p in $(PYTHON312_TRIED); do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done))$(PYTHON312)
HAVE_PYTHON312 = [ -n "$(PYTHON312)" ] && $(PYTHON312) -c '' 2>/dev/null
NO_PYTHON312 = No working Python 3.12+ (tried $(strip $(or $(PYTHON312),$(PYTHON312_TRIED)))): \
	the eager task factory was not tested (make pytest PYTHON312=/path/to/python3.12)
VENV312 := .venv-py312
DEV312_STAMP := $(VENV312)/.dev-installed

DEMO_STAMP := $(VENV)/.demo-installed

LATEST_VENV := .venv-latest
PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

.PHONY: help install test lint typecheck pytest pytest-312 demo bench lock test-latest peers clean

help:
	@echo "make demo         set up what the demo needs and run the weather exercise"
	@echo "make test         set up the locked .venv and run ruff, mypy --strict and pytest"
	@echo "make lock         move uv.lock to the newest releases"
	@echo "make test-latest  run the checks against the newest releases (lock untouched)"
	@echo "make bench        run the benchmarks (toolvolley bench)"
	@echo "make peers        compare with LangGraph, LangChain, Pydantic AI and the Agents SDK"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'

$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --extra dev --python $(PYTHON)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps '$(BFCL)'
	touch $@

# Only the demo's extra; --inexact keeps a development environment that is already there.
$(DEMO_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --inexact --extra cli --python $(PYTHON)
	touch $@

$(DEV312_STAMP): pyproject.toml uv.lock | $(UV)
	@$(HAVE_PYTHON312) || { echo "$(NO_PYTHON312)" >&2; exit 1; }
	UV_PROJECT_ENVIRONMENT=$(VENV312) $(UV) sync --quiet --locked --extra dev --python $(PYTHON312)
	$(UV) pip install --quiet --python $(VENV312)/bin/python --no-deps '$(BFCL)'
	touch $@

install: $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest
	@if $(HAVE_PYTHON312); then \
	$(MAKE) --no-print-directory pytest-312 PYTHON312=$(PYTHON312); \
	else echo "$(NO_PYTHON312)"; fi

pytest-312: $(DEV312_STAMP)
	$(VENV312)/bin/pytest -m every_runtime

test: lint typecheck pytest

demo: $(DEMO_STAMP)
	$(BIN)/toolvolley demo

bench: $(DEV_STAMP)
	$(BIN)/toolvolley bench

lock: $(UV)
	$(UV) lock --upgrade

# A throwaway environment with the newest release of everything pyproject.toml allows.
test-latest: $(UV)
	rm -rf $(LATEST_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST_VENV)
	$(UV) pip install --quiet --refresh --upgrade --python $(LATEST_VENV)/bin/python -e '.[dev]'
	$(UV) pip install --quiet --python $(LATEST_VENV)/bin/python --no-deps '$(BFCL)'
	$(LATEST_VENV)/bin/ruff check .
	$(LATEST_VENV)/bin/ruff format --check .
	$(LATEST_VENV)/bin/mypy
	$(LATEST_VENV)/bin/pytest

# The frameworks compared with live in their own environment, never in the library's.
$(PEERS_STAMP): pyproject.toml benchmarks/peers/requirements.txt | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(PEERS_VENV)
	$(UV) pip install --quiet --python $(PEERS_VENV)/bin/python \
		-e '.[cli,langgraph,langchain,pydantic-ai,agents]' -r benchmarks/peers/requirements.txt
	touch $@

peers: $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python benchmarks/peers/run.py

clean:
	rm -rf $(VENV) $(VENV312) $(TOOLS) $(LATEST_VENV) $(PEERS_VENV) .mypy_cache .pytest_cache .ruff_cache
