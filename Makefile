# The README's commands. Each installs what it needs: uv (from PyPI) and the locked dependencies.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
ARGS ?=

.PHONY: up test lint format typecheck bench sync uv clean

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

sync: uv
	$(UV) sync --locked

up: sync
	$(UV) run linkage up $(ARGS)

test: sync
	$(UV) run pytest $(ARGS)

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy .

format: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: sync
	$(UV) run python -m bench.run --quick

clean:
	rm -rf .linkage .pytest_cache .mypy_cache .ruff_cache
