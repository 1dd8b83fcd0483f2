# Sourced by the scripts after X and LAB_DIR are set: the lab's DSNs (xckit lab env),
# and two helpers for the PostgreSQL behind the lab's openGauss front, reached through
# its socket (trust): the lab's own set-up and PostgreSQL's own tools (psql, pgbench,
# pg_recvlogical), which cannot log in to openGauss and never see the front.
#   pgsock DB [USER]  a libpq URI of database DB (as USER, default the initial user)
#   pgsql DB ARGS...  psql on it
#   my ARGS...        mariadb on the lab's legacy database, as its admin
#   fresh_payments DB SLOT SRC DST  drop SLOT, make database DB again on both sides
#                     with a payd-shaped payments table, and cdc init SLOT
eval "$($X lab env --dir "$LAB_DIR")"
pgsock() {
  local base=${XCKIT_GAUSS_POSTGRES_DSN%%\?*} query=${XCKIT_GAUSS_POSTGRES_DSN#*\?}
  local user=${2:-}
  base=${base%/*}
  [ -n "$user" ] && base="postgres://$user@${base#postgres://*@}"
  echo "$base/$1?$query"
}
pgsql() { local db=$1; shift; psql "$(pgsock "$db")" "$@"; }
mysql_pw=$(sed -E 's#.*://[^:]+:([^@]+)@.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")
mysql_port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$XCKIT_LEGACY_ADMIN_DSN")
my() { mariadb -h127.0.0.1 -P"$mysql_port" -uxcadmin -p"$mysql_pw" "$@"; }
fresh_payments() {
  local db=$1 slot=$2 src=$3 dst=$4
  $X cdc drop --source "$src" --target "$dst" --slot "$slot" --yes --log-level error 2>/dev/null || true
  pgsql postgres -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
  my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
  local ddl="CREATE TABLE payments (req_id VARCHAR(64) PRIMARY KEY, merchant VARCHAR(64) NOT NULL, type VARCHAR(8) NOT NULL, agreement_id VARCHAR(40) NOT NULL, account_id BIGINT NOT NULL, channel VARCHAR(32) NOT NULL, amount BIGINT NOT NULL, currency CHAR(3) NOT NULL, status VARCHAR(16) NOT NULL, code VARCHAR(32) NOT NULL, body_hash CHAR(64) NOT NULL, created_at TIMESTAMP(6) NOT NULL)"
  psql "$src" -qc "$ddl"
  my "$db" -e "${ddl/TIMESTAMP(6)/DATETIME(6)}"
  $X cdc init --source "$src" --target "$dst" --slot "$slot" --plugin mppdb_decoding --log-level warn >/dev/null
}
