package dbx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// TestSettingOnBothEngines reads a parameter from the lab's PostgreSQL and MariaDB,
// and names what it could not read.
func TestSettingOnBothEngines(t *testing.T) {
	env := labtest.Ensure(t)
	ctx := context.Background()
	for _, tc := range []struct{ dsn, name, want string }{
		{env.GaussDSN, "wal_level", "logical"},
		{env.LegacyDSN, "binlog_format", "ROW"},
	} {
		db, err := dbx.Open(ctx, tc.dsn, dbx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := db.Setting(ctx, tc.name); err != nil || v != tc.want {
			t.Errorf("%s %s = %q, %v; want %q", db.Dialect.Name(), tc.name, v, err, tc.want)
		}
		if _, err := db.Setting(ctx, "no_such_parameter_xckit"); err == nil || !strings.Contains(err.Error(), "no_such_parameter_xckit") {
			t.Errorf("%s: a missing parameter: %v", db.Dialect.Name(), err)
		}
		if _, err := db.Setting(ctx, "x; DROP TABLE accounts"); err == nil || !strings.Contains(err.Error(), "not a parameter name") {
			t.Errorf("%s: an injected name: %v", db.Dialect.Name(), err)
		}
		db.Close()
	}
}

func TestSetParameterHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d           dbx.Dialect
		name, value string
		want        string
	}{
		// Postmaster parameters need gs_guc set and a restart, on every node of a cluster.
		{dbx.Dialect{Engine: dbx.OpenGauss}, "max_connections", "300", `gs_guc set -N all -I all -c "max_connections=300", then restart the cluster (gs_om -t restart`},
		{dbx.Dialect{Engine: dbx.OpenGauss}, "wal_level", "logical", `gs_guc set -N all -I all -c "wal_level=logical"`},
		{dbx.Dialect{Engine: dbx.OpenGauss}, "work_mem", "64MB", `gs_guc reload -N all -I all -c "work_mem=64MB"`},
		{dbx.Dialect{Engine: dbx.PostgreSQL}, "max_connections", "300", "ALTER SYSTEM SET max_connections = '300', then restart the server"},
		{dbx.Dialect{Engine: dbx.PostgreSQL}, "work_mem", "64MB", "ALTER SYSTEM SET work_mem = '64MB'; SELECT pg_reload_conf()"},
		{dbx.Dialect{Engine: dbx.MariaDB}, "max_connections", "300", "SET GLOBAL max_connections = '300'"},
	} {
		if got := tc.d.SetParameterHint(tc.name, tc.value); !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: %q, want %q in it", tc.d.Engine, tc.name, got, tc.want)
		}
	}
}

// Only PG mode passes the row paths; an engine without modes passes; the refusal
// names the side, the database, the mode and the fix.
func TestRequirePGMode(t *testing.T) {
	for _, c := range []struct {
		mode string
		ok   bool
	}{{"", true}, {"PG", true}, {"pg", true}, {"A", false}, {"B", false}, {"C", false}} {
		err := dbx.RequirePGMode(c.mode, "payd", "target")
		if (err == nil) != c.ok {
			t.Errorf("mode %q: %v", c.mode, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "target: database payd is in openGauss compatibility mode "+strings.ToUpper(c.mode)) || !strings.Contains(err.Error(), "DBCOMPATIBILITY 'PG'")) {
			t.Errorf("mode %q: %v", c.mode, err)
		}
	}
}

// Connection-level failures on either engine are transient; a constraint violation, a
// syntax error or a refused login are not.
func TestIsTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "55006"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42601"}, false},
		{&pgconn.PgError{Code: "28P01"}, false},
		{&mysql.MySQLError{Number: 2013}, true},
		{&mysql.MySQLError{Number: 1062}, false},
		{fmt.Errorf("apply: %w", syscall.ECONNREFUSED), true},
		{errors.New("read tcp: unexpected EOF"), true},
		{errors.New("no such table"), false},
		{nil, false},
	} {
		if got := dbx.IsTransient(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}
