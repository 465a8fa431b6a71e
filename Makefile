# Tandem — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

REPO      := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
export TANDEM_RUN_DIR ?= $(REPO)/.run
RUN_DIR   := $(TANDEM_RUN_DIR)
UV        ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY        := $(REPO)/.venv/bin/python
STACK     := $(REPO)/deploy/local/stack.sh
SERVICES  := $(REPO)/deploy/local/services.sh
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export UV_LINK_MODE ?= hardlink

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: uv
uv: ## Install uv (the Python package manager) if missing
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --user --quiet 'uv>=0.5'

.PHONY: install
install: uv ## Install Python deps (cached in ~/.cache/uv) and the local servers (idempotent)
	@$(UV) sync --frozen --all-packages
	@# Widget build and browser tests (playwright-core drives Debian's Chromium; no browser download).
	@if [ -f package-lock.json ]; then \
	  [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; \
	fi
	@command -v chromium >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@$(STACK) install

.PHONY: stack-up
stack-up: install ## Start PostgreSQL, Redis, Kafka and Weaviate as local processes
	@$(STACK) up >/dev/null

.PHONY: up
up: stack-up ## Start everything, seed the demo site, print the URLs
	@$(SERVICES) up
	@echo
	@echo "Tandem is up. URLs (also in $(RUN_DIR)/local.env):"
	@sed 's/^/  /' $(RUN_DIR)/local.env

.PHONY: down
down: ## Stop the services and the local stack (data kept; `make purge` deletes it)
	@$(SERVICES) down || true
	@$(STACK) down

.PHONY: purge
purge: ## Stop everything and delete the local data
	@$(SERVICES) down || true
	@$(STACK) down --purge

.PHONY: status
status: ## What is running
	@$(STACK) status || true
	@$(SERVICES) status

.PHONY: test
test: stack-up ## Install what is missing, start what the tests need, run the whole suite
	@# Tier 1: unit, component and integration tests. The services must not run meanwhile:
	@# they would react to the events these tests publish on the real topics.
	@$(SERVICES) down >/dev/null 2>&1 || true
	@set -a; source $(RUN_DIR)/stack.env; set +a; \
	  rc=0; $(PY) -m pytest -m "not e2e" $(PYTEST_ARGS) || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; fi; \
	  exit $$rc
	@# Tier 2: end to end, through all five running services.
	@$(SERVICES) up
	@set -a; source $(RUN_DIR)/stack.env; source $(RUN_DIR)/local.env; set +a; \
	  rc=0; $(PY) -m pytest -m e2e tests/e2e tests/contract $(PYTEST_ARGS) || rc=$$?; \
	  $(SERVICES) down >/dev/null 2>&1 || true; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no e2e tests: failing on purpose" >&2; fi; \
	  exit $$rc

.PHONY: test-unit
test-unit: ## Only the tests that need no servers
	@$(PY) -m pytest -m "unit or component" $(PYTEST_ARGS)

.PHONY: lint
lint: ## ruff and mypy
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy libs/events/src libs/platform/src services/*/src
	@bash deploy/k8s/check.sh

.PHONY: docs
docs: ## Regenerate the committed AsyncAPI/OpenAPI documents and event JSON Schemas
	@$(PY) -m tandem_events.schemas >/dev/null
	@$(PY) tools/gen_docs.py

# The answering pipeline outside the service: its own Postgres schema (nothing reaches the
# service's outbox) and throw-away Weaviate tenants, the same models and code.
ANSWERING_CLI := set -a; source $(RUN_DIR)/stack.env; set +a; \
	  TANDEM_ANSWERING_POSTGRES_DSN=$$TANDEM_POSTGRES_DSN TANDEM_ANSWERING_POSTGRES_SCHEMA=answering_eval \
	  TANDEM_ANSWERING_WEAVIATE_URL=$$TANDEM_WEAVIATE_URL TANDEM_ANSWERING_WEAVIATE_GRPC_PORT=$$TANDEM_WEAVIATE_GRPC_PORT \
	  $(PY) -m tandem_answering

EVAL_DATA ?= $(abspath $(REPO)/../shared/eval)

.PHONY: eval
eval: stack-up ## Answering quality on DATA=<set folder or folder of sets> (default ../shared/eval); last line is JSON
	@data="$${DATA:-$(EVAL_DATA)}"; $(ANSWERING_CLI) eval "$$data" --output $(REPO)/test-artifacts/eval

.PHONY: calibrate
calibrate: stack-up ## Refit both routes' confidence calibration on DATA=<folder of sets> (writes a new artifact)
	@data="$${DATA:-$(EVAL_DATA)}"; $(ANSWERING_CLI) calibrate "$$data"

.PHONY: eval-escalation
eval-escalation: ## Escalation message classifiers on DATA=<folder with labels.jsonl>; last line is JSON
	@test -n "$(DATA)" || { echo "usage: make eval-escalation DATA=<folder with labels.jsonl>" >&2; exit 2; }
	@$(PY) tools/eval_escalation.py $(DATA)

.PHONY: bench
bench: stack-up ## Benchmarks (figures printed as JSON)
	@$(SERVICES) up
	@set -a; source $(RUN_DIR)/stack.env; source $(RUN_DIR)/local.env; set +a; \
	  $(PY) -m tests.bench.latency
	@set -a; source $(RUN_DIR)/stack.env; set +a; $(PY) -m tests.bench.answering
