# Sourced by the scripts after X and LAB_DIR are set: the lab's DSNs (xckit lab env),
# and two helpers for the PostgreSQL behind the lab's openGauss front, reached through
# its socket (trust): the lab's own set-up and PostgreSQL's own tools (psql, pgbench,
# pg_recvlogical), which cannot log in to openGauss and never see the front.
#   pgsock DB [USER]  a libpq URI of database DB (as USER, default the initial user)
#   pgsql DB ARGS...  psql on it
eval "$($X lab env --dir "$LAB_DIR")"
pgsock() {
  local base=${XCKIT_GAUSS_POSTGRES_DSN%%\?*} query=${XCKIT_GAUSS_POSTGRES_DSN#*\?}
  local user=${2:-}
  base=${base%/*}
  [ -n "$user" ] && base="postgres://$user@${base#postgres://*@}"
  echo "$base/$1?$query"
}
pgsql() { local db=$1; shift; psql "$(pgsock "$db")" "$@"; }
