#!/usr/bin/env bash
# The story of `make demo`, on the running lab: install payd onto gauss (the new
# system), copy legacy into it online while legacy serves and follow legacy's binary
# log (cutover prepare), cut over (the window only drains: no copy; CDC slot before the
# first write), take payments through the balancer, roll back in one command under 500
# payments/s, and print RTO and RPO. Every step is a real xckit command; the acceptance evidence is in
# $LAB_DIR/acceptance/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
SITE="$LAB_DIR/site.yaml"
. scripts/lab-env.sh
# DSNs reach xckit through its environment, as on a site: never on a command line,
# where ps would show their passwords.
export XCKIT_DB="$XCKIT_GAUSS_DSN" XCKIT_ADMIN_DB="$XCKIT_GAUSS_ADMIN_DSN"
export XCKIT_CDC_SOURCE="$XCKIT_GAUSS_CDC_DSN" XCKIT_CDC_TARGET="$XCKIT_LEGACY_DSN"  # the CDC user: REPLICATION + SELECT
INSTALL=(--profile lab --prefix "$LAB_DIR/new" --listen 127.0.0.1:28080)
step() { printf '\n== %s\n' "$*"; }
# The lab's site with forward CDC: the data goes over before the window.
FWD="$LAB_DIR/site-forward.yaml"
sed 's/^cdc:$/cdc:\n  forward: true\n  verify_since: 15m/' "$SITE" > "$FWD"
chmod 600 "$FWD"
mysql_pw=$(sed -E 's#.*://[^:]+:([^@]+)@.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")
mysql_port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")

# A previous demo's new side goes: its install, CDC and database.
$X cdc stop --site "$LAB_DIR/site.yaml" --log-level warn >/dev/null 2>&1 || true
$X cdc stop --site "$FWD" --slot xckit_forward --log-level warn >/dev/null 2>&1 || true
# (a demo stopped half-way may have left the legacy application fenced)
mariadb -h127.0.0.1 -P"$mysql_port" -uxcadmin -p"$mysql_pw" -e "GRANT INSERT, UPDATE, DELETE ON payd.* TO 'pay'@'127.0.0.1'" 2>/dev/null || true
$X uninstall "${INSTALL[@]}" --log-level warn >/dev/null 2>&1 || true
$X cdc drop --yes --log-level warn 2>/dev/null || true
pgsql postgres -q -c "DROP DATABASE IF EXISTS payd" -c "ALTER ROLE pay RESET default_transaction_read_only" 2>/dev/null
# The legacy platform is the live one at the start of the story.
$X lab up --dir "$LAB_DIR" --log-level warn >/dev/null

step "xckit install --plan, then xckit install: payd onto gauss, the new system"
$X install "${INSTALL[@]}" --plan
$X install "${INSTALL[@]}"

step "xckit selftest: what xckit assumes of openGauss, proven on gauss and removed again"
$X selftest --cdc-db "$XCKIT_GAUSS_CDC_DSN"

step "xckit bench acceptance: the lab profile's cases (debit and credit at 500 TPS) against the new payd"
$X bench prepare --accounts 1000
$X bench acceptance --profile lab --target http://127.0.0.1:28080 --scale 0.2 --out "$LAB_DIR/acceptance" --log-level warn

step "xckit cutover prepare --site $FWD: legacy copied into gauss online under 300 payments/s, then forward CDC follows its binary log"
$X bench run --target "$XCKIT_LB_URL" --scenario payment.mixed --rate 300 --duration 6s --log-level warn > "$LAB_DIR/prepare-load.txt" 2>&1 &
load=$!
sleep 1
$X cutover prepare --site "$FWD"
wait $load || true
$X cdc status --source "$XCKIT_LEGACY_ADMIN_DSN"payd --target "${XCKIT_GAUSS_ADMIN_DSN%/postgres}/payd" --slot xckit_forward

step "xckit cutover --site $FWD --acceptance $LAB_DIR/acceptance --yes (no copy in the window: fence legacy, drain forward CDC, verify)"
$X cutover --site "$FWD" --acceptance "$LAB_DIR/acceptance" --yes
python3 - "$LAB_DIR/new/state/cutover-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"the window (RTO {r['rto_seconds']:.2f} s; forward lag at the legacy fence {r.get('forward_lag_at_fence', '-')}):")
print("  " + ", ".join(f"{w['step']} {w['seconds']:.2f}" for w in r.get('window', [])))
PY

step "payments through the balancer to the new system: 500 TPS for 10 s"
$X bench run --target "$XCKIT_LB_URL" --scenario payment.mixed --rate 500 --duration 10s --warmup 2s --log-level warn
$X cdc status

step "xckit rollback --site $FWD --yes, while 500 payments/s keep coming through the balancer"
$X bench run --target "$XCKIT_LB_URL" --scenario payment.mixed --rate 500 --duration 8s --warmup 1s --log-level warn > "$LAB_DIR/rollback-load.txt" 2>&1 &
load=$!
sleep 3
$X rollback --site "$FWD" --yes
wait $load || true
echo "load during the rollback (503 'drained' and 502 are refusals the clients retry; nothing acknowledged is lost):"
sed -n '2p;$p' "$LAB_DIR/rollback-load.txt"

step "the legacy system is live again: a signed payment through the balancer"
scripts/signed-curl.sh POST /v1/payments "{\"req_id\":\"after-rollback-$(date +%s%N)\",\"type\":\"credit\",\"agreement_id\":\"ag-seed-1\",\"amount\":100,\"currency\":\"CNY\",\"channel\":\"tenpay\"}" | sed -n '1p;$p'
python3 - "$LAB_DIR/new/state/rollback-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\nRTO {r['rto_seconds']:.2f} s, RPO {r['rpo']}")
for s in r['steps']:
    print(f"  {s['name']:<14} {s['seconds']:6.2f} s  {s.get('detail','')}")
PY
