#!/usr/bin/env bash
# make bench-generator: is xckit's load generator ever the bottleneck, and do its
# latency figures agree with pgbench's? Two parts, in one run, on the lab:
#   1. against a trivial endpoint (the lab nginx's /__lb/health): xckit closed loop
#      and wrk with the same connections; xckit open loop at 20,000 requests/s;
#   2. the same SQL at the same fixed rate: xckit's ycsb.c (go-ycsb's core workload
#      through xckit's binding) and pgbench -R with the same SELECT, p50 compared.
# Prints a Markdown block for docs/benchmarks.md. Bounded: about 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
XCKIT=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
STEADY=${STEADY:-15}
RECORDS=${RECORDS:-10000}

$XCKIT lab up --dir "$LAB_DIR" --log-level warn >/dev/null
X=$XCKIT; . scripts/lab-env.sh
# pgbench cannot log in to openGauss: both sides run on the PostgreSQL behind the lab's
# openGauss front, through its socket (the front's relay would count for one side only).
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
WRK=$(command -v wrk) || { echo "bench-generator: wrk is missing (make setup installs it)" >&2; exit 2; }
work="$LAB_DIR/bench"
mkdir -p "$work"
j() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
xb() { # args... -> JSON file path
  local f="$work/gen-$RANDOM.json"
  $XCKIT bench run --log-level warn --out "$f" "$@" >/dev/null 2>>"$work/generator.log"
  echo "$f"
}

url="$XCKIT_LB_URL/__lb/health"
echo "### Generator against a trivial endpoint (nginx $url), ${STEADY} s each"
echo
echo "| tool | mode | requests/s | p50 ms | p99 ms | generator CPU (% of host) |"
echo "|---|---|---|---|---|---|"
wout=$("$WRK" -t2 -c64 -d"${STEADY}s" --latency "$url")
wrps=$(awk '/^Requests\/sec/{print $2}' <<<"$wout")
conv() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }
w50=$(conv "$(awk '$1=="50%"{print $2}' <<<"$wout")")
w99=$(conv "$(awk '$1=="99%"{print $2}' <<<"$wout")")
echo "| wrk 4.1 (-t2 -c64) | closed, 64 connections | ${wrps%.*} | $w50 | $w99 | - |"
f=$(xb --scenario http.get --target "$url" --concurrency 64 --duration "${STEADY}s" --warmup 2s)
echo "| xckit http.get | closed, 64 workers | $(j "$f" '"%.0f | %.2f | %.2f | %.0f%%" % (d["achieved_tps"], d["latency"]["p50_ms"], d["latency"]["p99_ms"], d["resources"]["avg"]["generator_cpu_pct"])') |"
f=$(xb --scenario http.get --target "$url" --rate 20000 --duration "${STEADY}s" --warmup 2s)
echo "| xckit http.get | open loop at 20,000/s | $(j "$f" '"%.0f | %.2f | %.2f | %.0f%%" % (d["achieved_tps"], d["latency"]["p50_ms"], d["latency"]["p99_ms"], d["resources"]["avg"]["generator_cpu_pct"])') |"
echo "xckit open loop at 20,000/s: $(j "$f" '"success %.3f%%, late starts %d, unstarted %d" % (d["success_pct"], d["late"], d["unstarted"])')"
echo

echo "### Same SQL, same fixed rate: xckit ycsb.* against pgbench -R (gauss, $RECORDS rows)"
echo
# A rollback (make demo) fences role pay read-only; this scratch database is exempted.
pgsql postgres -q -c "DROP DATABASE IF EXISTS xckit_ycsb" -c "CREATE DATABASE xckit_ycsb OWNER pay" \
  -c "ALTER ROLE pay IN DATABASE xckit_ycsb SET default_transaction_read_only = off" >/dev/null 2>&1
pgsql xckit_ycsb -q -c "GRANT CREATE ON SCHEMA public TO pay"
dsn=$(pgsock xckit_ycsb pay)
sockdir=$(sed -E 's#.*host=([^&]+).*#\1#' <<<"$dsn"); port=$(sed -E 's#.*port=([0-9]+).*#\1#' <<<"$dsn")
common=(--ycsb-prop requestdistribution=uniform --ycsb-prop insertorder=ordered --records "$RECORDS")
echo "Latency counts from each query's scheduled start (both tools under a fixed rate); service time from its"
echo "actual start (pgbench: latency minus its schedule_lag column)."
echo
echo "| query | rate | latency p50 ms xckit / pgbench | difference | service p50 ms xckit / pgbench | difference | latency avg ms xckit / pgbench | p99 ms xckit / pgbench |"
echo "|---|---|---|---|---|---|---|---|"
pct() { python3 -c "print('%+.1f%%' % (100*($1-$2)/$2))"; }
for what in read scan; do
  if [ "$what" = read ]; then
    scen=(--scenario ycsb.c); sql=bench/pgbench/ycsb-read.sql; label="point read (ycsb.c)"
  else
    scen=(--scenario ycsb.e --ycsb-prop insertproportion=0 --ycsb-prop scanproportion=1); sql=bench/pgbench/ycsb-scan.sql
    label="scan of 1-100 rows (ycsb.e)"
  fi
  for rate in 500 2000; do
    f=$(xb "${scen[@]}" --target "$dsn" "${common[@]}" --rate "$rate" --concurrency 8 --duration "${STEADY}s" --warmup 2s)
    ( cd "$work" && rm -f pgbench_log.* && "$PGBENCH" -n -M prepared -R "$rate" -c 8 -j 2 -T "$STEADY" -l \
        -D records="$RECORDS" -f "$OLDPWD/$sql" -h "$sockdir" -p "$port" -U pay xckit_ycsb >pgbench.out 2>&1 ) || {
      echo "bench-generator: pgbench failed:" >&2; tail -5 "$work/pgbench.out" >&2; exit 1; }
    # Column 3 is the latency in µs (from the scheduled start under -R), column 7 the schedule lag.
    read -r p50 avg p99 s50 < <(cat "$work"/pgbench_log.* | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
v = sorted(int(r[2]) for r in rows)
s = sorted(int(r[2]) - int(r[6]) for r in rows)
q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] / 1000
print("%.3f %.3f %.3f %.3f" % (q(v, 0.5), sum(v) / len(v) / 1000, q(v, 0.99), q(s, 0.5)))')
    read -r x50 xavg x99 xs50 < <(j "$f" '"%.3f %.3f %.3f %.3f" % (d["latency"]["p50_ms"], d["latency"]["avg_ms"], d["latency"]["p99_ms"], d["service"]["p50_ms"])')
    echo "| $label | $rate/s | $x50 / $p50 | $(pct "$x50" "$p50") | $xs50 / $s50 | $(pct "$xs50" "$s50") | $xavg / $avg | $x99 / $p99 |"
  done
done
rm -f "$work"/pgbench_log.*
pgsql postgres -q -c "DROP DATABASE IF EXISTS xckit_ycsb" >/dev/null
