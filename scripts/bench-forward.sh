#!/usr/bin/env bash
# make bench-forward: the forward direction on the lab.
# (1) online copy of a legacy database (ACCOUNTS accounts and agreements, PAYMENTS
#     payments) into openGauss, `xckit cdc copy --online` through the lab's openGauss
#     front, against `mariadb --batch | psql \copy` of the same tables into the
#     PostgreSQL behind it (no front, no chunks, no checkpoints);
# (2) forward CDC applying a backlog of BACKLOG payments in 20 large transactions and of
#     BACKLOG/4 single-row transactions, against mariadb-binlog decoding the same range
#     of the binary log (the server's own tool, rows decoded, to /dev/null).
set -euo pipefail
cd "$(dirname "$0")/.."
X=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
PAYMENTS=${PAYMENTS:-2000000}
ACCOUNTS=${ACCOUNTS:-100000}
BACKLOG=${BACKLOG:-200000}
$X lab up --dir "$LAB_DIR" --log-level warn >/dev/null
. scripts/lab-env.sh
mysql_pw=$(sed -E 's#.*://[^:]+:([^@]+)@.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")
mysql_port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")
my() { mariadb -h127.0.0.1 -P"$mysql_port" -uxcadmin -p"$mysql_pw" "$@"; }
SRC="${XCKIT_LEGACY_ADMIN_DSN%/}/fwdbench"
DST="${XCKIT_GAUSS_ADMIN_DSN%/postgres}/fwdbench"
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.1f}')"; }
rate() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }

echo "set-up: $ACCOUNTS accounts and agreements, $PAYMENTS payments on legacy" >&2
my -e "DROP DATABASE IF EXISTS fwdbench; CREATE DATABASE fwdbench CHARACTER SET utf8mb4"
my fwdbench < platform/migrations/mysql/001_init.sql
for db in fwdbench fwdcopy; do
  pgsql postgres -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  pgsql "$db" -q -f platform/migrations/postgres/001_init.sql >/dev/null
done
my fwdbench -e "
INSERT INTO accounts SELECT seq, CONCAT('c', seq), 'CNY', 100000000, 0, NOW(6) FROM seq_1_to_$ACCOUNTS;
INSERT INTO agreements SELECT CONCAT('ag-', seq), 'm', CONCAT('c', seq), ELT(1 + seq % 3, 'tenpay', 'alipay', 'other'), seq, 'active', NOW(6), NULL FROM seq_1_to_$ACCOUNTS;
INSERT INTO payments SELECT CONCAT('p-', seq), 'm', IF(seq % 3, 'debit', 'credit'), CONCAT('ag-', 1 + seq % $ACCOUNTS), 1 + seq % $ACCOUNTS, 'tenpay', seq % 100000, 'CNY', 'succeeded', 'OK', SHA2(seq, 256), NOW(6) - INTERVAL seq SECOND FROM seq_1_to_$PAYMENTS;"
total=$((2 * ACCOUNTS + PAYMENTS))

echo "## online copy ($total rows)"
echo "| tool | seconds | rows/s |"
echo "|---|---|---|"
t0=$(now)
$X cdc copy --online --from "$SRC" --to "$DST" --log-level warn >/dev/null
t1=$(now)
echo "| xckit cdc copy --online (through the openGauss front, chunks of 10,000 with checkpoints) | $(secs "$t0" "$t1") | $(rate $total "$t0" "$t1") |"
t0=$(now)
for t in accounts agreements payments; do
  my -N -B fwdbench -e "SELECT * FROM $t" | pgsql fwdcopy -q -c "\\copy $t FROM STDIN WITH (NULL 'NULL')"
done
t1=$(now)
echo "| mariadb --batch \| psql \\copy (PostgreSQL's socket, one stream per table) | $(secs "$t0" "$t1") | $(rate $total "$t0" "$t1") |"
n=$(pgsql fwdbench -Atc "SELECT count(*) FROM payments")
[ "$n" = "$PAYMENTS" ] || { echo "xckit copied $n payments, want $PAYMENTS" >&2; exit 1; }

echo
echo "## forward CDC, backlog apply"
echo "| case | rows | xckit cdc run s | xckit rows/s | mariadb-binlog decode s | mariadb-binlog rows/s |"
echo "|---|---|---|---|---|---|"
# Catch up with the copy first, then stop: the backlog is written while nothing reads.
$X cdc run --source "$SRC" --target "$DST" --log-level warn & pid=$!
$X cdc wait --source "$SRC" --target "$DST" --timeout 300s --log-level warn >/dev/null
kill -TERM $pid; wait $pid
binlog_case() { # name, rows, SQL
  local name=$1 rows=$2 fill=$3
  local file start stop
  read -r file start _ < <(my -N -e "SHOW MASTER STATUS")
  my fwdbench <<<"$fill"
  read -r _ stop _ < <(my -N -e "SHOW MASTER STATUS")
  local t0 t1 t2
  t0=$(now)
  mariadb-binlog -R -h127.0.0.1 -P"$mysql_port" -uxcadmin -p"$mysql_pw" --start-position="$start" --stop-position="$stop" \
    --base64-output=decode-rows -v "$file" >/dev/null
  t1=$(now)
  $X cdc run --source "$SRC" --target "$DST" --log-level warn & local pid=$!
  $X cdc wait --source "$SRC" --target "$DST" --lsn "$file:$stop" --timeout 600s --log-level warn >/dev/null
  t2=$(now)
  kill -TERM $pid; wait $pid
  echo "| $name | $rows | $(secs "$t1" "$t2") | $(rate "$rows" "$t1" "$t2") | $(secs "$t0" "$t1") | $(rate "$rows" "$t0" "$t1") |"
}
row="'m', 'debit', CONCAT('ag-', 1 + seq % $ACCOUNTS), 1 + seq % $ACCOUNTS, 'tenpay', seq % 100000, 'CNY', 'succeeded', 'OK', SHA2(seq, 256), NOW(6)"
big=""
for i in $(seq 0 19); do
  big+="INSERT INTO payments SELECT CONCAT('b-', seq), $row FROM seq_$((i * BACKLOG / 20 + 1))_to_$(((i + 1) * BACKLOG / 20));"
done
binlog_case "20 transactions of $((BACKLOG / 20)) rows" "$BACKLOG" "$big"
small=$((BACKLOG / 4))
binlog_case "$small single-row transactions" "$small" "DELIMITER //
BEGIN NOT ATOMIC FOR seq IN 1..$small DO INSERT INTO payments SELECT CONCAT('s-', seq), $row; END FOR; END //
DELIMITER ;"
echo
echo "verify, same data on both sides:"
$X verify --source "$SRC" --target "$DST" | tail -1
