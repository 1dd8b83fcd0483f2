package dbx_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

func TestOpenLabDatabases(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := []struct {
		dsn    string
		engine dbx.Engine
		major  int
		minor  int
	}{
		{env.GaussDSN, dbx.OpenGauss, 5, 0}, // the lab's gauss: openGauss's banner from its front
		{env.GaussPostgresDSN, dbx.PostgreSQL, 15, -1},
		{env.LegacyDSN, dbx.MariaDB, 10, 11},
	}
	for _, c := range cases {
		db, err := dbx.Open(ctx, c.dsn, dbx.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", dbx.Redact(c.dsn), err)
		}
		if db.Dialect.Engine != c.engine || db.Dialect.Major != c.major || (c.minor >= 0 && db.Dialect.Minor != c.minor) {
			t.Errorf("%s: dialect %+v, want %s %d.%d", db.DSN, db.Dialect, c.engine, c.major, c.minor)
		}
		db.Close()
	}
}

func TestScramAndMD5BothPassThroughTheShim(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// PostgreSQL itself (behind the lab's openGauss front), over its own TCP port.
	admin, err := dbx.Open(ctx, env.GaussPostgresDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		"DROP ROLE IF EXISTS xc_scram_user",
		"DROP ROLE IF EXISTS xc_md5_user",
		"SET password_encryption = 'scram-sha-256'",
		"CREATE ROLE xc_scram_user LOGIN PASSWORD 'Scr@m-pass'",
		"SET password_encryption = 'md5'",
		"CREATE ROLE xc_md5_user LOGIN PASSWORD 'Md5-pass'",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, c := range []struct{ user, password, method string }{
		{"xc_scram_user", "Scr@m-pass", "PostgreSQL SASL (SCRAM)"},
		{"xc_md5_user", "Md5-pass", "md5 (code 5)"},
	} {
		dsn := fmt.Sprintf("postgres://%s:%s@%s/postgres", c.user, url.QueryEscape(c.password), env.GaussPostgresTCP)
		db, err := dbx.Open(ctx, dsn, dbx.Options{})
		if err != nil {
			t.Fatalf("%s through the openGauss shim: %v", c.method, err)
		}
		db.Close()
		if m, err := dbx.LoginMethod(ctx, dsn, 5*time.Second); err != nil || m != c.method {
			t.Errorf("%s: login method %q %v", c.user, m, err)
		}
	}
	// The lab's gauss front asks for openGauss's sha256, with its stored count.
	if m, err := dbx.LoginMethod(ctx, env.GaussDSN, 5*time.Second); err != nil || m != "openGauss sha256 (code 10), 10000 iterations" {
		t.Errorf("the lab's gauss: login method %q %v", m, err)
	}
}

func TestWrongPasswordErrorHidesIt(t *testing.T) {
	env := labtest.Ensure(t)
	ctx := context.Background()
	for _, raw := range []string{env.GaussDSN, env.LegacyDSN} {
		d, _ := dbx.ParseDSN(raw)
		d.Password = "Wr0ng-Secret-123"
		_, err := dbx.OpenDSN(ctx, d, dbx.Options{ConnectTimeout: 5 * time.Second})
		if err == nil {
			t.Fatalf("%s: a wrong password connected", d)
		}
		if strings.Contains(err.Error(), "Wr0ng-Secret-123") {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), d.User) {
			t.Errorf("error should name the user and server: %v", err)
		}
	}
}

func TestUniqueViolationOnBothEngines(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := labtest.DatabaseName("dbx", t)
	for _, raw := range []string{labtest.FreshDatabase(t, env, labtest.Gauss, name), labtest.FreshDatabase(t, env, labtest.Legacy, name)} {
		db, err := dbx.Open(ctx, raw, dbx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tbl := "xc_dbx_uniq_test"
		db.ExecContext(ctx, "DROP TABLE IF EXISTS "+tbl)
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+tbl+" (id BIGINT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		ins := "INSERT INTO " + tbl + " (id) VALUES (" + db.Dialect.Placeholder(1) + ")"
		if _, err := db.ExecContext(ctx, ins, 1); err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, ins, 1)
		if !dbx.IsUniqueViolation(err) {
			t.Errorf("%s: second insert: %v, want a unique violation", db.Dialect.Name(), err)
		}
		var n int
		db.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl).Scan(&n)
		if n != 1 {
			t.Errorf("%s: %d rows", db.Dialect.Name(), n)
		}
		db.ExecContext(ctx, "DROP TABLE "+tbl)
	}
}
