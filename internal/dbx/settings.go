package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// Setting reads one server parameter: SHOW name on openGauss and PostgreSQL, the
// global variable on MySQL and MariaDB.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	if !settingName.MatchString(name) {
		return "", fmt.Errorf("setting %q: not a parameter name", name)
	}
	var v string
	var err error
	if db.Dialect.Family() == FamilyMySQL {
		var n string
		err = db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'").Scan(&n, &v)
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("%s has no variable %s", db.Dialect.Name(), name)
		}
	} else {
		err = db.QueryRowContext(ctx, "SHOW "+name).Scan(&v)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// SetParameterHint is the command that sets a server parameter and reloads it, for a
// DBA to run: gs_guc on the openGauss host, ALTER SYSTEM on PostgreSQL, SET GLOBAL
// (and my.cnf, to keep it) on MySQL and MariaDB.
func (d Dialect) SetParameterHint(name, value string) string {
	restart := restartParameters[name]
	switch {
	case d.Engine == OpenGauss && restart:
		// Postmaster parameters: gs_guc set writes postgresql.conf; only a restart
		// applies them. -N all -I all reaches every node and instance of a cluster.
		return fmt.Sprintf("as the database's OS user run gs_guc set -N all -I all -c \"%s=%s\", then restart the cluster (gs_om -t restart; a single node: gs_ctl restart -D $PGDATA): %s takes effect only at a restart", name, value, name)
	case d.Engine == OpenGauss:
		return fmt.Sprintf("as the database's OS user run gs_guc reload -N all -I all -c \"%s=%s\"", name, value)
	case d.Family() == FamilyMySQL:
		return fmt.Sprintf("SET GLOBAL %s = '%s' (and in my.cnf, to keep it across restarts)", name, value)
	case restart:
		return fmt.Sprintf("ALTER SYSTEM SET %s = '%s', then restart the server (pg_ctl restart): %s takes effect only at a restart", name, value, name)
	}
	return fmt.Sprintf("ALTER SYSTEM SET %s = '%s'; SELECT pg_reload_conf()", name, value)
}

// restartParameters take effect only when the server restarts (PostgreSQL's and
// openGauss's postmaster context) among those xckit checks.
var restartParameters = map[string]bool{
	"wal_level": true, "archive_mode": true, "max_replication_slots": true, "max_wal_senders": true, "max_connections": true,
	"shared_buffers": true, "wal_buffers": true, "max_prepared_transactions": true, "enable_thread_pool": true,
	"max_process_memory": true, "port": true, "listen_addresses": true,
}

// CompatibilityMode is an openGauss database's DBCOMPATIBILITY (A, B, C or PG); other
// engines have no modes and answer "".
func (db *DB) CompatibilityMode(ctx context.Context) (string, error) {
	if db.Dialect.Engine != OpenGauss {
		return "", nil
	}
	var mode string
	if err := db.QueryRowContext(ctx, "SELECT datcompatibility FROM pg_database WHERE datname = current_database()").Scan(&mode); err != nil {
		return "", fmt.Errorf("read the database's compatibility mode: %w", err)
	}
	return mode, nil
}

// RequirePGMode refuses an openGauss database in a mode other than PG for the kit's
// row paths (copy, verify, CDC apply): in A mode ” is stored as NULL, CHAR/VARCHAR(n)
// count bytes and DATE is timestamp(0), so values would not compare or round-trip.
func RequirePGMode(mode, database, side string) error {
	if mode == "" || strings.EqualFold(mode, "PG") {
		return nil
	}
	return fmt.Errorf("%s: database %s is in openGauss compatibility mode %s: xckit copies and compares rows as PG mode stores them ('' is NULL in A mode, VARCHAR(n) counts bytes); the platform's database must be created with DBCOMPATIBILITY 'PG' (xckit install does)", side, database, strings.ToUpper(mode))
}

// Strings runs a query of one text column and returns its values; a row that cannot be
// read is an error, never a value left out.
func (db *DB) Strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
