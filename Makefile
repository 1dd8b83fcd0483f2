# xckit: `make demo` runs the main job on the local lab; `make test` runs every test.
# Both install what is missing first (make setup).

SHELL       := /bin/bash
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE        ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS     := -s -w -X github.com/xckit/xckit/internal/buildinfo.Version=$(VERSION) \
               -X github.com/xckit/xckit/internal/buildinfo.Commit=$(COMMIT) \
               -X github.com/xckit/xckit/internal/buildinfo.Date=$(DATE)
TESTLAB_DIR ?= $(or $(TMPDIR),/tmp)/xckit-testlab
LAB_DIR     ?= .xckit-lab
XCKIT       := bin/xckit

.PHONY: help setup build test vet demo dist bench-payd bench-cdc bench-spool bench-forward bench-cutover bench-generator bench-model lab-up lab-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: ## install missing apt packages (postgresql-15, mariadb-server, nginx, ...) and Go modules
	@scripts/setup.sh

build: ## build bin/xckit and bin/payd for this machine
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(XCKIT) ./cmd/xckit
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/payd ./cmd/payd

vet: ## gofmt check, go vet, no build output or large non-test files tracked in git
	@scripts/check-tracked.sh
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test: setup build vet ## every test (-race), lab integration tests included; the test lab is removed afterwards
	@set -o pipefail; status=0; \
	XCKIT_TEST_LAB_DIR=$(TESTLAB_DIR) XCKIT_BIN=$(abspath $(XCKIT)) $(GO) test -race -count=1 -timeout 20m ./... 2>&1 | tee .test.log || status=$$?; \
	$(XCKIT) lab down --purge --dir $(TESTLAB_DIR) --log-level warn || true; \
	rm -f $(TESTLAB_DIR).lock; \
	exit $$status

demo: setup build ## the main job on the lab: check, install, acceptance, cutover, load, rollback under load (RTO/RPO)
	$(XCKIT) lab up --dir $(LAB_DIR)
	$(XCKIT) lab status --dir $(LAB_DIR)
	@echo
	@echo "demo: preflight of this host, gauss and legacy against the lab profile:"
	@eval "$$($(XCKIT) lab env --dir $(LAB_DIR))" && $(XCKIT) check --db "$${XCKIT_GAUSS_ADMIN_DSN%/postgres}/payd" --cdc-user xckit_cdc --legacy "$$XCKIT_LEGACY_DSN"
	@echo
	@echo "demo: a signed debit through the balancer (the F5) to the live legacy platform:"
	@eval "$$($(XCKIT) lab env --dir $(LAB_DIR))" && scripts/signed-curl.sh POST /v1/payments \
	  "{\"req_id\":\"demo-$$(date +%s%N)\",\"type\":\"debit\",\"agreement_id\":\"ag-seed-1\",\"amount\":1250,\"currency\":\"CNY\",\"channel\":\"tenpay\"}" 2>&1
	@echo
	@echo
	@echo "demo: the story: install payd onto gauss, accept it, cut over, take payments, roll back in one command under load:"
	LAB_DIR=$(LAB_DIR) scripts/demo-story.sh
	@echo
	@echo "demo: done. The lab stays up with the legacy system live (gauss = openGauss stand-in, legacy = MariaDB + payd,"
	@echo "demo: lb = nginx as the F5). Acceptance report: $(LAB_DIR)/acceptance/report.html; cutover and rollback"
	@echo "demo: reports: $(LAB_DIR)/new/state. scripts/demo-cdc.sh shows CDC step by step. make lab-down stops it."

bench-payd: setup build ## payd debit vs pgbench on the same SQL, fixed 500 TPS, capacity (about 6 min)
	scripts/bench-payd.sh

bench-generator: setup build ## the load generator vs wrk on a trivial endpoint, and its latency vs pgbench on the same SQL (about 4 min)
	scripts/bench-generator.sh

bench-cdc: setup build ## CDC apply rows/s vs pg_recvlogical, verify rows/s, lag at 1000 payments/s (about 2 min)
	scripts/bench-cdc.sh
	XCKIT_TEST_LAB_DIR=$(TESTLAB_DIR) XCKIT_BIN=$(abspath $(XCKIT)) $(GO) test -count=1 -run '^$$' -bench CDCLag -benchtime 1x ./cdc

bench-forward: setup build ## online copy vs mariadb|psql, forward CDC backlog vs mariadb-binlog, forward lag at 1000 payments/s (about 4 min)
	scripts/bench-forward.sh
	XCKIT_TEST_LAB_DIR=$(TESTLAB_DIR) XCKIT_BIN=$(abspath $(XCKIT)) $(GO) test -count=1 -run '^$$' -bench ForwardLag -benchtime 1x ./cdc

bench-spool: setup build ## peak memory of cdc run on one 500,000-row transaction, spooled vs in memory (about 3 min)
	scripts/bench-spool.sh

bench-cutover: setup build ## cutover RTO at scale: 5M legacy payments under 300/s, forward (prepare + window) vs copy in the window (about 15 min)
	XCKIT_BIN=$(abspath $(XCKIT)) $(GO) test -count=1 -timeout 60m -run '^$$' -bench CutoverAtScale -benchtime 1x -v ./cutover

bench-model: setup build ## the model-based runbook test, longer: 1000 random operations under load (about 10 min)
	XCKIT_MODEL_OPS=1000 XCKIT_MODEL_BUDGET=15m $(GO) test -count=1 -timeout 30m -run TestModelRunbooks -v ./cutover

dist: setup ## cross-compile xckit and payd for linux/amd64 and arm64: offline bundles, RPMs and DEBs (dist/)
	VERSION=$(VERSION) COMMIT=$(COMMIT) DATE=$(DATE) scripts/dist.sh

lab-up: build ## start the local lab (.xckit-lab)
	$(XCKIT) lab up --dir $(LAB_DIR)

lab-down: build ## stop the local lab and remove its data
	$(XCKIT) lab down --purge --dir $(LAB_DIR)

clean: ## remove build output
	rm -rf bin dist
