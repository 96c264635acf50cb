# FAME overlay fabric — developer entry points.
# Only Node 20 + npm + make are assumed; pnpm is installed into .tools/ on demand.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM = $(shell ./scripts/ensure-pnpm.sh)

.PHONY: help install build lint format test test-unit test-integration bench-crypto pki start stop clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

node_modules/.modules.yaml: package.json pnpm-lock.yaml $(wildcard packages/*/package.json services/*/package.json)
	@$(PNPM) install --frozen-lockfile
	@touch $@

install: node_modules/.modules.yaml ## install dependencies (pnpm, pinned)

build: install ## type-check and compile every package
	@$(PNPM) run build

lint: install ## biome lint + format check
	@$(PNPM) run lint

format: install ## rewrite files with biome's formatter
	@$(PNPM) run format

test: build ## install, build, type-check tests, run all tests (unit + integration)
	@$(PNPM) exec tsc -p tsconfig.test.json
	@$(PNPM) exec vitest run $(VITEST_ARGS)

test-unit: build ## unit tests only
	@$(PNPM) exec vitest run --project unit

test-integration: build ## integration tests only (real processes on loopback)
	@$(PNPM) exec vitest run --project integration

bench-crypto: build ## crypto micro-benchmarks (both back ends)
	@$(PNPM) run bench:crypto

pki: build ## generate the dev PKI and secrets into certs/ (idempotent)
	@node scripts/setup-pki.mjs --dir certs

start: build ## start the fabric (filled in as the fabric grows)
	@echo "make start: the fabric processes are not wired yet (sentinel/agents pending); build OK." >&2

stop: ## stop whatever make start launched
	@echo "nothing running"

clean: stop ## remove build output and generated certs/secrets
	@rm -rf packages/*/dist services/*/dist
	@find certs -mindepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
	@echo "removed build output and certs/ contents"
