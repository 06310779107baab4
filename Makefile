# The index of everything a developer does. `make help` lists it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
PY := .venv/bin/python
BUF := tools/node_modules/.bin/buf
INFRA := deploy/local/infra.sh
export UV_LINK_MODE := copy

.PHONY: help install up down status logs servers servers-stop test test-unit test-integration \
        test-e2e lint format proto proto-check proto-deps buf-lint buf-breaking compose-check bench clean \
        console console-api console-api-check console-test browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## install Python deps (uv, from uv.lock) and the contract tools (buf, from npm)
	@command -v uv >/dev/null 2>&1 || { echo "[install] uv $(UV_VERSION) from PyPI"; python3 -m pip install --quiet --root-user-action=ignore uv==$(UV_VERSION); }
	@echo "[install] Python packages from uv.lock"
	@uv sync --frozen --quiet
	@test -x $(BUF) || { echo "[install] buf from npm"; npm ci --prefix tools --no-audit --no-fund --silent; }

# install first: the SMTP server is aiosmtpd from the project's .venv
servers: install ## install (once) and start Redis, RabbitMQ, Elasticsearch, FerretDB, Kannel and an SMTP server
	@$(INFRA) install
	@$(INFRA) start

servers-stop: ## stop the local servers
	@$(INFRA) stop

up: install servers console ## start everything: servers, the services, the gateway and the console
	@$(PY) tools/fleet.py up

down: ## stop the fleet and the servers
	@$(PY) tools/fleet.py down
	@$(INFRA) stop

status: ## what is running
	@$(INFRA) status || true
	@$(PY) tools/fleet.py status

logs: ## follow the fleet's logs
	@tail -n 50 -F .kopa/log/*.log

test: install servers proto-check console-api-check lint console console-test browser ## run every test (unit, integration, e2e, console, browser) against real servers
	@$(PY) -m pytest -q -p no:cacheprovider

test-unit: install ## unit tests only (no servers)
	@$(PY) -m pytest -q -m unit

test-integration: install servers ## integration tests against the real servers
	@$(PY) -m pytest -q -m integration

test-e2e: install servers ## the fleet as processes, driven over HTTP
	@$(PY) -m pytest -q -m e2e

lint: buf-lint buf-breaking ## ruff (lint + format check), mypy, buf lint and breaking-change check
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check --quiet .
	@.venv/bin/mypy --no-error-summary shared gateway tools \
	  auth_service user_service loan_service payment_service scoring_service reporting_service \
	  notification_service

format: ## apply ruff's formatting and fixes
	@.venv/bin/ruff format .
	@.venv/bin/ruff check --fix .

console: ## build the staff console into console/dist (npm ci from its lock; skipped when unchanged)
	@$(PY) tools/console.py build

console-api: ## regenerate the console's typed API client from the gateway's OpenAPI
	@$(PY) tools/console.py api

console-api-check: ## fail when the console's API client differs from the gateway's OpenAPI
	@$(PY) tools/console.py api --check

console-test: console ## the console's component tests (Vitest)
	@cd console && npx vitest run --reporter=dot

browser: ## install Debian's Chromium for the browser tests (once)
	@command -v chromium >/dev/null 2>&1 || { echo "[browser] chromium from Debian"; \
	  apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null; }

proto: ## regenerate the Python stubs from proto/
	@$(PY) tools/protogen.py 2>/dev/null

proto-check: ## fail when the checked-in stubs differ from proto/
	@$(PY) tools/protogen.py --check 2>/dev/null

proto-deps: install ## the google/type protos our contracts import, for buf (from the installed package)
	@$(PY) tools/protogen.py --deps proto

buf-lint: proto-deps ## lint the contracts with buf's STANDARD rules
	@cd proto && ../$(BUF) lint

# main's contracts are taken from git with the same imported protos beside them.
buf-breaking: proto-deps ## compare the contracts with main (run before merging)
	@rm -rf .kopa/against && mkdir -p .kopa/against && git archive main proto | tar -x -C .kopa/against
	@$(PY) tools/protogen.py --deps .kopa/against/proto
	@cd proto && ../$(BUF) breaking --against ../.kopa/against/proto

compose-check: install ## validate docker-compose.yml, the Dockerfile and deploy/k8s offline
	@$(PY) -m pytest -q -p no:cacheprovider tests/integration/deploy

bench: install servers ## run the benchmarks; each prints its numbers
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## remove caches and the fleet's state (not the servers' data)
	@rm -rf .kopa .pytest_cache .mypy_cache .ruff_cache
