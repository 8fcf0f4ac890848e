# quantum-grpc developer entry points.
#
#   make run    bootstrap .venv with what serving needs (no dev extras) if needed, then run
#               the core (SQLite + sim "mixed" back-end on 127.0.0.1:9696); extra flags:
#               make run ARGS='--sim-profile async'
#   make test   bootstrap .venv with the dev extras too, and node_modules, if needed, then
#               every check CI runs, in order, stopping at the first that fails
#
# Helpers: make protos (regenerate the stubs), make docs (the generated tables in docs/),
# make descriptor (the descriptor set of deploy/envoy/rest.yaml), make lint, make clean,
# make help.
#
# Installs are stamped: pip runs again only when pyproject.toml or
# clients/python/pyproject.toml is newer than .venv/.installed-run (serving) or
# .venv/.installed (dev extras), npm only when package.json or package-lock.json is newer
# than node_modules/.installed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# The steps of `make test` must run one after the other even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What `make run` needs: the quantum-client and quantum-grpc distributions, no extras.
RUN_STAMP := $(VENV)/.installed-run
# What every other target needs: the dev extras too (stub generator, linters, tests).
VENV_STAMP := $(VENV)/.installed
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check
NODE_STAMP := node_modules/.installed
# --no-install: use the buf from node_modules, never fetch one on the fly.
BUF := npx --no-install buf

ARGS ?=
LOG_LEVEL ?= INFO
PYTEST_ARGS ?=
# Parallel pytest workers (pytest-xdist). Every test has its own ports, files, schemas and
# namespaces, and spends most of its time waiting on servers and processes, so three
# workers on two cores take the suite from ~12 to ~5 min; PYTEST_WORKERS=0 runs in-process.
PYTEST_WORKERS ?= 3

header = @printf '\n==> %s\n' "$(1)"

.PHONY: help run test protos docs lint clean venv node \
	check-protos buf-lint buf-breaking ruff-check format-check mypy pytest

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- bootstrap ------------------------------------------------------------------------

$(BIN)/python:
	$(call header,creating $(VENV) with $(PYTHON))
	$(PYTHON) -m venv $(VENV)

# The client distribution is named next to the server one: pip takes it from
# ./clients/python for the server's `quantum-client` requirement (pip cannot express a
# relative path dependency itself). Both are built in the venv itself, which gets
# pyproject.toml's build requirements first, rather than in two throw-away build
# environments (--no-build-isolation): that saves ~10 s of a fresh clone's `make run`.
$(RUN_STAMP): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(call header,installing quantum-client and quantum-grpc into $(VENV))
	$(PIP_INSTALL) -q $$($(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')
	$(PIP_INSTALL) --no-build-isolation -e ./clients/python -e .
	touch $@

$(VENV_STAMP): $(RUN_STAMP)
	$(call header,installing quantum-grpc[dev] into $(VENV))
	$(PIP_INSTALL) --no-build-isolation -e ./clients/python -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json $(wildcard package-lock.json)
	$(call header,npm install (buf))
	npm install --no-audit --no-fund
	touch $@

venv: $(VENV_STAMP) ## create .venv and install the project with its dev extras (only when needed)

node: $(NODE_STAMP) ## npm install the proto tools (only when needed)

# --- the two user-facing targets ------------------------------------------------------

run: $(RUN_STAMP) ## run the core: SQLite + sim (mixed) on 127.0.0.1:9696 [ARGS=...]
	$(BIN)/quantum-grpc --log-level $(LOG_LEVEL) serve $(ARGS)

test: $(VENV_STAMP) $(NODE_STAMP) check-protos buf-lint buf-breaking ruff-check format-check mypy pytest ## every CI check, in order
	$(call header,all checks passed)

# --- the steps of `make test` (each also runs on its own) -----------------------------

check-protos: $(VENV_STAMP) ## [1/7] the committed stubs match the protos, _sync.py its _aio.py
	$(call header,[1/7] generated stubs match the protos and the sync client its async one)
	$(BIN)/python scripts/gen_protos.py --check
	$(BIN)/python scripts/gen_sync_client.py --check

buf-lint: $(NODE_STAMP) ## [2/7] buf lint
	$(call header,[2/7] buf lint)
	$(BUF) lint

# Compares the working tree's protos with the previous commit's. Skipped when there is no
# previous commit, when it is not in the clone (a shallow CI clone), or when it predates
# buf.yaml.
buf-breaking: $(NODE_STAMP) ## [3/7] buf breaking against HEAD~1
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

ruff-check: $(VENV_STAMP) ## [4/7] ruff check
	$(call header,[4/7] ruff check)
	$(BIN)/ruff check .

format-check: $(VENV_STAMP) ## [5/7] ruff format --check
	$(call header,[5/7] ruff format --check)
	$(BIN)/ruff format --check .

mypy: $(VENV_STAMP) ## [6/7] mypy
	$(call header,[6/7] mypy)
	$(BIN)/mypy

pytest: $(VENV_STAMP) ## [7/7] pytest [PYTEST_ARGS=...]
	$(call header,[7/7] pytest)
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# --- helpers --------------------------------------------------------------------------

protos: $(VENV_STAMP) ## regenerate clients/python/quantum_api stubs and third_party/googleapis
	$(BIN)/python scripts/gen_protos.py

# Envoy's gRPC-JSON transcoder reads it (deploy/envoy/rest.yaml, docs/operations.md).
DESCRIPTOR ?= build/quantum.pb

.PHONY: descriptor
descriptor: $(VENV_STAMP) ## write the descriptor set for Envoy's REST transcoding [DESCRIPTOR=build/quantum.pb]
	$(BIN)/python scripts/gen_descriptor.py $(DESCRIPTOR)

.PHONY: sync-client
sync-client: $(VENV_STAMP) ## regenerate the SDK's blocking Client (_sync.py) from AsyncClient (_aio.py)
	$(BIN)/python scripts/gen_sync_client.py

docs: $(VENV_STAMP) ## regenerate the tables in docs/ printed from code (scripts/gen_docs.py)
	$(BIN)/python scripts/gen_docs.py

lint: $(VENV_STAMP) $(NODE_STAMP) ## ruff check, ruff format --check, mypy, buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BUF) lint

clean: ## remove .venv, node_modules, caches and build leftovers
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		*.egg-info build dist clients/python/*.egg-info clients/python/build
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
