#!/usr/bin/env bash
# The second half of `make demo`, on the running lab: install payd onto gauss (the new
# system) with xckit install, copy the legacy data into it, start CDC gauss -> legacy
# before the new side's first write, send the new payd payments, show cdc status, and
# end with a clean verify.
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
. scripts/lab-env.sh
NEW_DSN=$XCKIT_GAUSS_DSN
CDC_SRC=$XCKIT_GAUSS_CDC_DSN   # the CDC user: REPLICATION, and SELECT from install
LEGACY=$XCKIT_LEGACY_DSN
PREFIX="$LAB_DIR/new"
INSTALL=(--profile lab --db "$NEW_DSN" --admin-db "$XCKIT_GAUSS_ADMIN_DSN" --prefix "$PREFIX" --listen 127.0.0.1:28080)
step() { printf '\n== %s\n' "$*"; }

# Start from a clean new side: a previous demo's install, slot and database go.
$X uninstall "${INSTALL[@]}" --log-level warn >/dev/null 2>&1 || true
$X cdc stop --log-level warn >/dev/null 2>&1 || true
$X cdc drop --source "$CDC_SRC" --target "$LEGACY" --yes --log-level warn 2>/dev/null || true
pgsql postgres -q -c "DROP DATABASE IF EXISTS payd" -c "ALTER ROLE pay RESET default_transaction_read_only" 2>/dev/null

step "xckit install --plan: what installing payd onto gauss would do"
$X install "${INSTALL[@]}" --plan
step "xckit install phase db-bootstrap, phase schema: the empty new database"
$X install phase db-bootstrap "${INSTALL[@]}"
$X install phase schema "${INSTALL[@]}"

step "xckit cdc copy: legacy -> gauss (the legacy system's data)"
$X cdc copy --from "$LEGACY" --to "$NEW_DSN"
step "xckit verify: equal before the new side's first write"
$X verify --source "$NEW_DSN" --target "$LEGACY"

step "xckit cdc init: slot on gauss, checkpoint on legacy; cdc run in the background"
$X cdc init --source "$CDC_SRC" --target "$LEGACY"
$X cdc run --source "$CDC_SRC" --target "$LEGACY" --metrics-addr 127.0.0.1:28187 --log-level warn >"$LAB_DIR/cdc.log" 2>&1 &

step "xckit install: the remaining phases, ending in the smoke test (its payments replicate too)"
$X install "${INSTALL[@]}"

step "payments to the new side: 200 TPS for 10 s"
$X bench run --target http://127.0.0.1:28080 --scenario payment.mixed --rate 200 --duration 10s --warmup 2s --log-level warn

step "xckit cdc status, then xckit cdc wait (everything committed so far is applied)"
$X cdc status --source "$CDC_SRC" --target "$LEGACY"
$X cdc wait --source "$CDC_SRC" --target "$LEGACY" --timeout 60s
curl -s http://127.0.0.1:28187/metrics | grep -E '^xckit_cdc_(rows|txns)_total'

step "xckit cdc stop (it finishes its batch); the new payd stops too (its data stays)"
$X cdc stop
$X uninstall "${INSTALL[@]}" --log-level warn | tail -1
step "xckit verify: gauss and legacy are equal"
$X verify --source "$NEW_DSN" --target "$LEGACY"
