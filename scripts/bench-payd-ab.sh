#!/usr/bin/env bash
# A/B of two payd builds on the same scratch database of the lab's gauss (a role and
# database of their own): payment.debit open loop at 500/s for 20 s, alternating A, B,
# A, B. Usage: scripts/bench-payd-ab.sh A_PAYD B_PAYD   (B migrates and seeds; the lab
# must be up: make lab-up; AB_ENGINE=legacy uses its MariaDB). Build an old one with: git worktree add /tmp/old REV &&
# (cd /tmp/old && go build -o /tmp/payd-old ./cmd/payd).
set -euo pipefail
cd "$(dirname "$0")/.."
a_bin=${1:?A payd binary} b_bin=${2:?B payd binary}
X=bin/xckit LAB_DIR=.xckit-lab; . scripts/lab-env.sh
if [ "${AB_ENGINE:-gauss}" = legacy ]; then   # AB_ENGINE=legacy: the lab's MariaDB
  admin=$XCKIT_LEGACY_ADMIN_DSN
  hostport=${admin#*@}; hostport=${hostport%%/*}
  u=${admin#mysql://}; u=${u%%@*}
  mysql -h "${hostport%:*}" -P "${hostport#*:}" -u "${u%%:*}" -p"${u#*:}" -e "DROP DATABASE IF EXISTS abtest; CREATE DATABASE abtest; CREATE USER IF NOT EXISTS 'ab_pay'@'127.0.0.1' IDENTIFIED BY 'ab-pay-pw-0123'; GRANT ALL ON abtest.* TO 'ab_pay'@'127.0.0.1'" 2>/dev/null
  app="mysql://ab_pay:ab-pay-pw-0123@$hostport/abtest"
else
  # The lab's application role, on a database of its own (a role made through the
  # socket would have no password the openGauss front knows).
  pgsql postgres -qAt -c "DROP DATABASE IF EXISTS abtest" -c "CREATE DATABASE abtest OWNER pay" >/dev/null 2>&1
  pgsql abtest -qAt -c "GRANT CREATE ON SCHEMA public TO pay" >/dev/null
  app="${XCKIT_GAUSS_DSN%/payd}/abtest"
fi
dir=$(mktemp -d)
for v in a b; do
  port=$([ $v = a ] && echo 28190 || echo 28191)
  printf 'listen: 127.0.0.1:%s\ndsn: %s\nmerchants:\n  - id: %s\n    key: %s\n' "$port" "$app" "$XCKIT_MERCHANT_ID" "$XCKIT_MERCHANT_KEY" > $dir/$v.yaml
  chmod 600 $dir/$v.yaml
done
"$b_bin" --config $dir/b.yaml --log-level warn migrate
"$b_bin" --config $dir/b.yaml --log-level warn seed --accounts 1000 --balance 100000000000 >/dev/null
"$a_bin" --config $dir/a.yaml --log-level warn & po=$!
"$b_bin" --config $dir/b.yaml --log-level warn & pn=$!
trap 'kill $po $pn 2>/dev/null; rm -rf "$dir"' EXIT
sleep 2
for round in 1 2; do
  for v in a b; do
    port=$([ $v = a ] && echo 28190 || echo 28191)
    echo "== round $round: payd $v"
    bin/xckit bench run --scenario payment.debit --target http://127.0.0.1:$port --rate 500 --duration 20s --warmup 3s --no-prepare --log-level warn 2>/dev/null | grep -iE '^ |platform|latency|success' | head -8
  done
done
