#!/usr/bin/env bash
# make bench-cdc: CDC apply throughput gauss -> legacy MariaDB on the lab, a backlog of
# payd-shaped rows in (a) large and (b) single-row transactions; the database's own
# decoding speed (pg_recvlogical on a twin slot) for comparison; verify speed.
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
ROWS=${ROWS:-200000}
$X lab up --dir "$LAB_DIR" --log-level warn >/dev/null
. scripts/lab-env.sh
# pg_recvlogical cannot log in to openGauss: both read the PostgreSQL behind the lab's
# openGauss front through its socket, with the lab's mppdb_decoding (the same output).
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_recvlogical | tail -1)")
SRC=$(pgsock cdcbench)
DST="${XCKIT_LEGACY_ADMIN_DSN%/}/cdcbench"

READERS=${READERS:-sql stream}
run_case() { # name, SQL that fills the source, reader
  local name=$1 fill=$2 reader=$3
  psql "$SRC" -qc "SELECT pg_drop_replication_slot('bench_twin') FROM pg_replication_slots WHERE slot_name = 'bench_twin'" >/dev/null 2>&1 || true
  fresh_payments cdcbench bench "$SRC" "$DST"
  psql "$SRC" -qc "SELECT pg_create_logical_replication_slot('bench_twin', 'mppdb_decoding')" >/dev/null
  psql "$SRC" -q <<<"$fill"
  local end_lsn; end_lsn=$(psql "$SRC" -Atc "SELECT pg_current_wal_lsn()")
  local t0 t1 t2
  t0=$(date +%s.%N)
  "$PGBIN/pg_recvlogical" -d "$SRC" --slot bench_twin --start --endpos "$end_lsn" -o include-xids=1 -f /dev/null
  t1=$(date +%s.%N)
  $X cdc run --source "$SRC" --target "$DST" --slot bench --reader "$reader" --log-level warn & local pid=$!
  $X cdc wait --source "$SRC" --target "$DST" --slot bench --lsn "$end_lsn" --timeout 600s --log-level warn >/dev/null
  t2=$(date +%s.%N)
  kill -TERM $pid; wait $pid
  local n; n=$(my -N cdcbench -e "SELECT count(*) FROM payments")
  python3 -c "r=$n; a=$t1-$t0; b=$t2-$t1; print(f'| $name | $reader | {r} | {b:.1f} | {r/b:.0f} | {a:.1f} | {r/a:.0f} | {a/b:.2f} |')"
}

row="'p-' || g, 'm', 'debit', 'ag-seed-' || (g % 1000 + 1), g % 1000 + 1, 'tenpay', g % 100000, 'CNY', 'succeeded', 'ok', md5(g::text) || md5(g::text), now()"
echo "| case | reader | rows | xckit cdc apply s | xckit rows/s | pg_recvlogical decode s | pg_recvlogical rows/s | xckit / pg_recvlogical |"
echo "|---|---|---|---|---|---|---|---|"
big=""; for i in $(seq 0 19); do big+="INSERT INTO payments SELECT $row FROM generate_series($((i*ROWS/20+1)), $(((i+1)*ROWS/20))) g;"$'\n'; done
for r in $READERS; do run_case "20 transactions of $((ROWS/20)) rows" "$big" "$r"; done
small="DO \$\$ BEGIN FOR g IN 1..$((ROWS/4)) LOOP INSERT INTO payments SELECT $row; COMMIT; END LOOP; END \$\$;"
for r in $READERS; do run_case "$((ROWS/4)) single-row transactions" "$small" "$r"; done
echo
echo "verify, same data on both sides:"
$X verify --source "$SRC" --target "$DST" | tail -1
