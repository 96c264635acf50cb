# FAME overlay fabric — developer entry points.
# Only Node 20 + npm + make are assumed; pnpm is installed into .tools/ on demand.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM = $(shell ./scripts/ensure-pnpm.sh)

.PHONY: help install build lint format test test-unit test-integration bench bench-crypto pki start stop clean
.PHONY: run run-verbose status logs kill-replica restart-replica failover-demo compose-check
.PHONY: start-cluster kill-sentinel restart-sentinel cluster-demo

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# CI installs exactly the committed lockfile; locally a new workspace package (fame new agent)
# is linked in and recorded in pnpm-lock.yaml, which is then committed with it.
node_modules/.modules.yaml: package.json pnpm-lock.yaml $(wildcard packages/*/package.json services/*/package.json)
	@$(PNPM) install $(if $(CI),--frozen-lockfile,--prefer-offline)
	@touch $@

install: node_modules/.modules.yaml ## install dependencies (pnpm, pinned)

build: install ## type-check and compile every package
	@$(PNPM) run build

lint: install ## biome lint + format check, import rules (dependency-cruiser, .dependency-cruiser.cjs)
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

.PHONY: soak
soak: build ## fault/load soak (~2 min, FAME_SOAK_SEC=…); writes the report into docs/reliability.md
	@$(PNPM) run test:soak

bench: build ## the fabric vs this machine's limits: table + bench/results/<date>.json (BENCH_ARGS=--no-profile …)
	@$(PNPM) run bench $(BENCH_ARGS)

bench-crypto: build ## crypto micro-benchmarks (both back ends)
	@$(PNPM) run bench:crypto

.PHONY: pack
pack: build ## tarballs of @fame/sdk, @fame/cli and their workspace deps into packs/ (npm install packs/*.tgz elsewhere)
	@node scripts/pack.mjs

# The TLS certificate is P-256, not Ed25519: browsers (the sentinel's dashboard) accept no Ed25519 one.
pki: build ## generate the dev PKI and secrets into certs/ (idempotent)
	@node scripts/setup-pki.mjs --dir certs --tls-key ecdsa-p256

# The demo fabric: scripts/fabric.mjs supervises oauth2, welcome, ca, sentinel and
# two math-agent replicas as background processes (PID files and logs in run/).
# Ports: FAME_OAUTH2_PORT (8443), FAME_WELCOME_PORT (8444), FAME_CA_PORT (8445),
# FAME_SENTINEL_PORT (8000), from the environment or config/fabric.env.
FABRIC = node scripts/fabric.mjs

start: pki ## install if needed, build, generate certs/ if missing, start the fabric in the background
	@$(FABRIC) start

run: ## the demo client once: add, multiply, fib_stream over an encrypted channel
	@$(FABRIC) run

run-verbose: ## the demo client once, printing every envelope (signatures, encryption)
	@$(FABRIC) run --verbose

status: ## processes, and the sentinel's pools, replicas and pins; a cluster: NATS servers, each sentinel's nodes (JSON=1: raw)
	@$(FABRIC) status $(if $(filter 1,$(JSON)),--json)

logs: ## follow all logs; R=1|2(|3) one replica, S=sentinel|oauth2|welcome|ca (cluster: sentinel1, nats-1, …) one service (FOLLOW=0: print, exit)
	@$(FABRIC) logs $(or $(R),$(S)) $(if $(filter 0,$(FOLLOW)),--no-follow)

kill-replica: ## SIGKILL a replica by PID: R=1|2
	@$(FABRIC) kill-replica $(R)

restart-replica: ## (re)start a replica and wait until it serves: R=1|2
	@$(FABRIC) restart-replica $(R)

failover-demo: ## client calls in a loop (SEC=10) while its pinned replica is killed and restarted
	@$(FABRIC) failover-demo --seconds $(or $(SEC),10)

.PHONY: traces
traces: ## receive traces on 127.0.0.1:4318 and draw each call's path (start the fabric with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318)
	@$(PNPM) -s fame traces $(TRACES_ARGS)

.PHONY: dashboard
dashboard: ## print (and open, with a display) the sentinel's live dashboard link, admin token in its #fragment
	@$(FABRIC) dashboard

# The cluster (docs/scaling.md, "Running a cluster"): 3 NATS JetStream servers (Debian's
# nats-server; configs and stores in run/), the identity services, 3 sentinels sharing state
# through NATS and 3 replicas placed across them by Welcome. make run/status/logs/stop follow it.
# Ports: FAME_SENTINEL_PORTS (8000,8001,8002), FAME_NATS_PORTS (4222,…), FAME_NATS_CLUSTER_PORTS
# (6222,…), FAME_NATS_MONITOR_PORTS (8222,…).
start-cluster: pki ## build if needed, start NATS (3 servers), 3 sentinels, the identity services and 3 replicas
	@$(FABRIC) start-cluster

kill-sentinel: ## SIGKILL a sentinel of the cluster by PID: N=1|2|3
	@$(FABRIC) kill-sentinel $(N)

restart-sentinel: ## (re)start a sentinel of the cluster and wait until it is healthy: N=1|2|3
	@$(FABRIC) restart-sentinel $(N)

cluster-demo: ## calls in a loop while the client's sentinel, a replica's sentinel and a NATS server are SIGKILLed
	@$(FABRIC) cluster-demo

stop: ## stop what make start or make start-cluster launched (SIGTERM by PID, SIGKILL after a bound)
	@$(FABRIC) stop

compose-check: ## validate compose/ (docker compose config when docker is installed)
	@node scripts/compose-check.mjs

clean: stop ## stop, remove generated certs/secrets, run/ and build output
	@rm -rf packages/*/dist services/*/dist run packs
	@find certs -mindepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
	@echo "removed build output, run/ and certs/ contents"
