# quantum-grpc developer entry points.
#
#   make run    bootstrap .venv if needed, then run the core (SQLite + sim "mixed" back-end
#               on 127.0.0.1:9696); extra flags: make run ARGS='--sim-profile async'
#   make test   bootstrap .venv and node_modules if needed, then every check CI runs, in
#               order, stopping at the first that fails
#
# Helpers: make protos (regenerate the stubs), make lint, make clean, make help.
#
# Installs are stamped: pip runs again only when pyproject.toml is newer than
# .venv/.installed, npm only when package.json or package-lock.json is newer than
# node_modules/.installed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# The steps of `make test` must run one after the other even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# --no-install: use the buf from node_modules, never fetch one on the fly.
BUF := npx --no-install buf

ARGS ?=
LOG_LEVEL ?= INFO
PYTEST_ARGS ?=

header = @printf '\n==> %s\n' "$(1)"

.PHONY: help run test protos lint clean venv node \
	check-protos buf-lint buf-breaking ruff-check format-check mypy pytest

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- bootstrap ------------------------------------------------------------------------

$(BIN)/python:
	$(call header,creating $(VENV) with $(PYTHON))
	$(PYTHON) -m venv $(VENV)

$(VENV_STAMP): pyproject.toml | $(BIN)/python
	$(call header,installing quantum-grpc[dev] into $(VENV))
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json $(wildcard package-lock.json)
	$(call header,npm install (buf))
	npm install --no-audit --no-fund
	touch $@

venv: $(VENV_STAMP) ## create .venv and install the project (only when needed)

node: $(NODE_STAMP) ## npm install the proto tools (only when needed)

# --- the two user-facing targets ------------------------------------------------------

run: $(VENV_STAMP) ## run the core: SQLite + sim (mixed) on 127.0.0.1:9696 [ARGS=...]
	$(BIN)/quantum-grpc --log-level $(LOG_LEVEL) serve $(ARGS)

test: $(VENV_STAMP) $(NODE_STAMP) check-protos buf-lint buf-breaking ruff-check format-check mypy pytest ## every CI check, in order
	$(call header,all checks passed)

# --- the steps of `make test` (each also runs on its own) -----------------------------

check-protos: $(VENV_STAMP)
	$(call header,[1/7] generated stubs match the protos)
	$(BIN)/python scripts/gen_protos.py --check

buf-lint: $(NODE_STAMP)
	$(call header,[2/7] buf lint)
	$(BUF) lint

# Compares the working tree's protos with the previous commit's. Skipped when there is no
# previous commit, when it is not in the clone (a shallow CI clone), or when it predates
# buf.yaml.
buf-breaking: $(NODE_STAMP)
	$(call header,[3/7] buf breaking against HEAD~1)
	@if ! git rev-parse --verify --quiet 'HEAD~1^{commit}' >/dev/null 2>&1; then \
		echo "skipped: HEAD~1 is not available (first commit, shallow clone or no git)"; \
	elif ! git cat-file -e 'HEAD~1:buf.yaml' 2>/dev/null; then \
		echo "skipped: HEAD~1 has no buf.yaml"; \
	else \
		echo "$(BUF) breaking --against '.git#ref=HEAD~1'"; \
		$(BUF) breaking --against '.git#ref=HEAD~1'; \
		echo "no breaking changes since $$(git rev-parse --short HEAD~1)"; \
	fi

ruff-check: $(VENV_STAMP)
	$(call header,[4/7] ruff check)
	$(BIN)/ruff check .

format-check: $(VENV_STAMP)
	$(call header,[5/7] ruff format --check)
	$(BIN)/ruff format --check .

mypy: $(VENV_STAMP)
	$(call header,[6/7] mypy)
	$(BIN)/mypy

pytest: $(VENV_STAMP)
	$(call header,[7/7] pytest)
	$(BIN)/pytest $(PYTEST_ARGS)

# --- helpers --------------------------------------------------------------------------

protos: $(VENV_STAMP) ## regenerate clients/python/quantum_api stubs and third_party/googleapis
	$(BIN)/python scripts/gen_protos.py

lint: $(VENV_STAMP) $(NODE_STAMP) ## ruff check, ruff format --check, mypy, buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BUF) lint

clean: ## remove .venv, node_modules, caches and build leftovers
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		*.egg-info build dist
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
