#!/usr/bin/env bash
# The CDC part of `make demo`, on the running lab: copy the legacy data into gauss,
# start CDC gauss -> legacy before the new side's first write, run the new payd on
# gauss and send it payments, show cdc status, and end with a clean verify.
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
eval "$($X lab env --dir "$LAB_DIR")"
NEW_DSN=$XCKIT_GAUSS_DSN
CDC_SRC="${XCKIT_GAUSS_ADMIN_DSN%/postgres}/payd"   # slots need REPLICATION: the lab's admin
LEGACY=$XCKIT_LEGACY_DSN
work="$LAB_DIR/new-app"
mkdir -p "$work"
step() { printf '\n== %s\n' "$*"; }

stop_pid() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null && sleep 1; rm -f "$1"; }
stop_pid "$work/payd.pid"; stop_pid "$work/cdc.pid"
$X cdc drop --source "$CDC_SRC" --target "$LEGACY" --yes --log-level warn 2>/dev/null || true

step "fresh openGauss-side database, payd schema"
psql "$XCKIT_GAUSS_ADMIN_DSN" -q -c "DROP DATABASE IF EXISTS payd" -c "CREATE DATABASE payd OWNER pay" 2>/dev/null
umask 077
cat > "$work/payd.yaml" <<YAML
listen: 127.0.0.1:28080
dsn: $NEW_DSN
merchants:
  - {id: $XCKIT_MERCHANT_ID, key: $XCKIT_MERCHANT_KEY}
YAML
bin/payd --config "$work/payd.yaml" --log-level warn migrate

step "xckit cdc copy: legacy -> gauss (the legacy system's data)"
$X cdc copy --from "$LEGACY" --to "$NEW_DSN"
step "xckit verify: equal before the new side's first write"
$X verify --source "$NEW_DSN" --target "$LEGACY"

step "xckit cdc init: slot on gauss, checkpoint on legacy"
$X cdc init --source "$CDC_SRC" --target "$LEGACY"

step "new payd on gauss (127.0.0.1:28080) and xckit cdc run in the background"
bin/payd --config "$work/payd.yaml" --pid-file "$work/payd.pid" --log-level warn >"$work/payd.log" 2>&1 &
$X cdc run --source "$CDC_SRC" --target "$LEGACY" --metrics-addr 127.0.0.1:28187 --log-level warn >"$work/cdc.log" 2>&1 &
echo $! > "$work/cdc.pid"
for _ in $(seq 100); do curl -sf http://127.0.0.1:28080/readyz >/dev/null && break; sleep 0.1; done

step "payments to the new side: 200 TPS for 10 s"
$X bench run --target http://127.0.0.1:28080 --scenario payment.mixed --rate 200 --duration 10s --warmup 2s --log-level warn

step "xckit cdc status, then xckit cdc wait (everything committed so far is applied)"
$X cdc status --source "$CDC_SRC" --target "$LEGACY"
$X cdc wait --source "$CDC_SRC" --target "$LEGACY" --timeout 60s
curl -s http://127.0.0.1:28187/metrics | grep -E '^xckit_cdc_(rows|txns)_total'

step "stop cdc run (SIGTERM: finishes its batch) and the new payd"
stop_pid "$work/cdc.pid"; stop_pid "$work/payd.pid"
step "xckit verify: gauss and legacy are equal"
$X verify --source "$NEW_DSN" --target "$LEGACY"
