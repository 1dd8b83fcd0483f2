#!/usr/bin/env bash
# make bench-payd: payd's debit against pgbench running the same SQL, in one run, on
# the lab's gauss (the openGauss stand-in). Prints a Markdown block for
# docs/benchmarks.md. Bounded: about 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
XCKIT=bin/xckit
LAB_DIR=${LAB_DIR:-.xckit-lab}
ACCOUNTS=${ACCOUNTS:-10000}
STEADY=${STEADY:-30s}
PORT=${BENCH_PORT:-28090}

$XCKIT lab up --dir "$LAB_DIR" --log-level warn >/dev/null
X=$XCKIT; . scripts/lab-env.sh
# pgbench cannot log in to openGauss: both sides run on the PostgreSQL behind the lab's
# openGauss front, through its socket (the front's relay would count for one side only).
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
work="$LAB_DIR/bench"
mkdir -p "$work"

echo "bench-payd: fresh database payd_bench on gauss, $ACCOUNTS accounts" >&2
# A rollback (make demo) fences role pay read-only; this scratch database is exempted.
pgsql postgres -q -c "DROP DATABASE IF EXISTS payd_bench" -c "CREATE DATABASE payd_bench OWNER pay" \
  -c "ALTER ROLE pay IN DATABASE payd_bench SET default_transaction_read_only = off" >/dev/null
pgsql payd_bench -q -c "GRANT CREATE ON SCHEMA public TO pay"
dsn=$(pgsock payd_bench pay)
sockdir=$(sed -E 's#.*host=([^&]+).*#\1#' <<<"$dsn"); sockport=$(sed -E 's#.*port=([0-9]+).*#\1#' <<<"$dsn")
umask 077
cat > "$work/payd.yaml" <<YAML
listen: 127.0.0.1:$PORT
dsn: $dsn
channels:
  - {name: tenpay, max_concurrency: 64, pool_size: 24, queue_timeout: 1s}
  - {name: alipay, max_concurrency: 64, pool_size: 24, queue_timeout: 1s}
  - {name: other,  max_concurrency: 64, pool_size: 24, queue_timeout: 1s}
merchants:
  - {id: $XCKIT_MERCHANT_ID, key: $XCKIT_MERCHANT_KEY}
YAML
bin/payd --config "$work/payd.yaml" --log-level warn migrate
bin/payd --config "$work/payd.yaml" --log-level warn seed --accounts "$ACCOUNTS"
bin/payd --config "$work/payd.yaml" --log-level warn > "$work/payd.log" 2>&1 &
payd_pid=$!
trap 'kill $payd_pid 2>/dev/null; wait $payd_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

pgb() { # concurrency -> "tps avg_ms"
  local out
  out=$("$PGBENCH" -n -M prepared -c "$1" -j 2 -T "${STEADY%s}" \
        -D accounts="$ACCOUNTS" -f bench/pgbench/debit.sql -h "$sockdir" -p "$sockport" -U pay payd_bench 2>&1)
  local tps
  tps=$(awk '/^tps = /{print $3}' <<<"$out" | head -1)
  if [ -z "$tps" ] || grep -q "aborted" <<<"$out"; then
    echo "bench-payd: pgbench failed:" >&2; tail -5 <<<"$out" >&2; exit 1
  fi
  echo "$tps $(awk '/^latency average/{print $4}' <<<"$out")"
}
xb() { # args... -> JSON file path
  local f="$work/xb-$RANDOM.json"
  $XCKIT bench run --target "http://127.0.0.1:$PORT" --accounts "$ACCOUNTS" --log-level warn --out "$f" "$@" >/dev/null
  echo "$f"
}
j() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

echo "| concurrency | pgbench TPS | pgbench avg ms | payd TPS | payd avg ms (client) | payd avg platform ms | payd / pgbench |"
echo "|---|---|---|---|---|---|---|"
for c in 16 64; do
  read -r ptps pavg < <(pgb "$c")
  f=$(xb --scenario payment.debit --concurrency "$c" --duration "$STEADY" --warmup 5s)
  read -r xtps xavg xplat < <(j "$f" '"%.0f %.2f %.2f" % (d["achieved_tps"], d["latency"]["avg_ms"], d["platform"]["avg_ms"])')
  ratio=$(python3 -c "print('%.0f%%' % (100*$xtps/$ptps))")
  echo "| $c | ${ptps%.*} | $pavg | $xtps | $xavg | $xplat | $ratio |"
done
echo
f=$(xb --scenario payment.debit --rate 500 --duration 60s --warmup 5s)
echo "Fixed 500 TPS for 60 s (open loop): $(j "$f" '"achieved %.1f TPS, success %.3f%%, platform avg %.2f ms p99 %.2f ms, client latency avg %.2f ms p99 %.2f ms" % (d["achieved_tps"], d["success_pct"], d["platform"]["avg_ms"], d["platform"]["p99_ms"], d["latency"]["avg_ms"], d["latency"]["p99_ms"])')"
echo
echo "Capacity: xckit bench capacity (open loop, 15 s steady per step; the lab profile's debit limits"
echo "plus p99 <= 45 ms; 100% success; achieved >= 99% of the rate):"
cat > "$work/capacity.yaml" <<YAML
name: capacity
extends: lab
acceptance:
  cases:
    - {name: debit, scenario: payment.debit, tps: 500, duration: 15s, max_avg_latency: 45ms, max_p99_latency: 45ms, min_success: 100%}
YAML
$XCKIT bench capacity --profile "$work/capacity.yaml" --target "http://127.0.0.1:$PORT" --accounts "$ACCOUNTS" \
  --start 1000 --step 500 --max 5000 --duration 15s --warmup 3s --log-level warn 2>&1 | sed 's/^/- /'
