package dbx_test

import (
	"context"
	"strings"
	"testing"

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
		d    dbx.Dialect
		want string
	}{
		{dbx.Dialect{Engine: dbx.OpenGauss}, `gs_guc reload -D $PGDATA -c "max_connections=300"`},
		{dbx.Dialect{Engine: dbx.PostgreSQL}, "ALTER SYSTEM SET max_connections = '300'; SELECT pg_reload_conf()"},
		{dbx.Dialect{Engine: dbx.MariaDB}, "SET GLOBAL max_connections = '300'"},
	} {
		if got := tc.d.SetParameterHint("max_connections", "300"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q in it", tc.d.Engine, got, tc.want)
		}
	}
}
