#!/usr/bin/env bash
# make bench-spool: the memory one large source transaction takes in `xckit cdc run`
# (gauss -> legacy MariaDB on the lab): ROWS payd-shaped rows in ONE transaction,
# applied with the spool at its default bound and with a bound larger than the
# transaction (everything in memory). Peak resident memory from /proc/PID/status
# (VmHWM), and the time to apply.
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
ROWS=${ROWS:-500000}
READER=${READER:-sql}
$X lab up --dir "$LAB_DIR" --log-level warn >/dev/null
. scripts/lab-env.sh
SRC=$(pgsock spoolbench)
DST="${XCKIT_LEGACY_ADMIN_DSN%/}/spoolbench"
spool=$(mktemp -d)
trap 'rm -rf "$spool"' EXIT

run_case() { # --spool-mb value
  local mb=$1
  fresh_payments spoolbench spool "$SRC" "$DST"
  psql "$SRC" -qc "INSERT INTO payments SELECT 'p-' || g, 'm', 'debit', 'ag-seed-' || (g % 1000 + 1), g % 1000 + 1, 'tenpay', g % 100000, 'CNY', 'succeeded', 'ok', md5(g::text) || md5(g::text), now() FROM generate_series(1, $ROWS) g"
  local end_lsn; end_lsn=$(psql "$SRC" -Atc "SELECT pg_current_wal_lsn()")
  local t0 t1 hwm
  t0=$(date +%s.%N)
  $X cdc run --source "$SRC" --target "$DST" --slot spool --reader "$READER" --spool-mb "$mb" --spool-dir "$spool" --log-level warn & local pid=$!
  $X cdc wait --source "$SRC" --target "$DST" --slot spool --lsn "$end_lsn" --timeout 900s --log-level warn >/dev/null
  t1=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid; wait $pid
  local n; n=$(my -N spoolbench -e "SELECT count(*) FROM payments")
  python3 -c "print(f'| {$ROWS} rows in one transaction | $READER | --spool-mb $mb | {$n} | {$t1-$t0:.1f} | {$hwm/1024:.0f} |')"
}

echo "| case | reader | bound | rows applied | seconds | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
run_case 64
run_case 100000
