# The README's commands. Each installs what it needs into the checkout, never into the system's
# Python: uv, then the locked dependencies (uv.lock) in .venv.
SHELL := /bin/bash
PYTHON ?= python3
ARGS ?=
REQUIRES_PYTHON := $(shell sed -n 's/^requires-python *= *"\(.*\)"/\1/p' pyproject.toml)

# uv: the one on PATH, else the Python's uv module (development machines), else a copy unpacked
# into the checkout from the wheel that pip downloads (tools/fetch_uv.py). pip installs nothing
# that way, which systems whose Python is externally managed (PEP 668: Debian 12, Ubuntu 24.04)
# allow, and it uses whatever index pip is configured with.
UV_VERSION ?= 0.13.9
CHECKOUT_UV := .linkage/tools/uv-$(UV_VERSION)/uv
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(if $(shell $(PYTHON) -m uv --version 2>/dev/null),$(PYTHON) -m uv,$(CHECKOUT_UV))
endif
# Trust the system's certificate store, as the system's pip and git do: a county's network may
# reach the index through a TLS proxy whose authority only the system knows.
export UV_SYSTEM_CERTS ?= 1

.PHONY: up test test-fast lint format typecheck bench sync uv clean

uv: $(filter $(CHECKOUT_UV),$(UV))

$(CHECKOUT_UV):
	@command -v $(PYTHON) >/dev/null || { \
		echo "linkage: no $(PYTHON) on PATH; install Python $(REQUIRES_PYTHON) (e.g. apt-get install python3 python3-pip)" >&2; \
		exit 1; }
	@$(PYTHON) tools/fetch_uv.py $(UV_VERSION) $@

# uv looks for a Python that requires-python accepts. Where there is none it would download one
# from GitHub, which a county's server may not reach: say what to install instead.
sync: uv
	@$(UV) python find >/dev/null 2>&1 || { \
		echo "linkage: no Python $(REQUIRES_PYTHON) found on this system; install one (e.g. apt-get install python3.11) and run make again" >&2; \
		exit 1; }
	$(UV) sync --locked

# The venv's linkage itself, not through `uv run`: where its input is no terminal (a service
# manager, a script) uv passes a Ctrl-C on a second time, and a second interrupt makes the stack
# kill its processes instead of stopping them.
up: sync
	$${UV_PROJECT_ENVIRONMENT:-.venv}/bin/linkage up $(ARGS)

test: sync
	$(UV) run pytest $(ARGS)

test-fast: sync  # the pure tier: rules, checks, transitions and clocks in seconds
	$(UV) run pytest tests/domain -q $(ARGS)

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
