package gaussfront_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// The lab's gauss, from outside, as a client meets it: these run against the test
// lab's front and the PostgreSQL behind it.

func gaussAddr(t *testing.T) (string, dbx.DSN) {
	env := labtest.Ensure(t)
	d, _ := dbx.ParseDSN(env.GaussDSN)
	return fmt.Sprintf("%s:%d", d.Host, d.Port), d
}

// startup sends a startup message announcing protocol 3.minor and returns the first
// message the server answers with.
func startup(t *testing.T, addr, user string, minor uint32) (byte, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[4:], 3<<16|minor)
	for _, s := range []string{"user", user, "database", "payd", ""} {
		b = append(append(b, s...), 0)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	return head[0], body
}

// openGauss's sendAuthRequest layouts, by the minor the client announced; the
// versions its postmaster refuses; its initial user refused over TCP.
func TestFrontHandshake(t *testing.T) {
	addr, app := gaussAddr(t)
	for _, c := range []struct {
		minor uint32
		size  int // body: code, method, salt, token, then signature / nothing / iteration
	}{{0, 4 + 4 + 64 + 8 + 64}, {50, 4 + 4 + 64 + 8}, {51, 4 + 4 + 64 + 8 + 4}} {
		typ, body := startup(t, addr, app.User, c.minor)
		if typ != 'R' || len(body) != c.size || binary.BigEndian.Uint32(body) != 10 || binary.BigEndian.Uint32(body[4:]) != 2 {
			t.Errorf("protocol 3.%d: %q %d bytes %x, want R of %d bytes (code 10, sha256)", c.minor, typ, len(body), body[:8], c.size)
		}
		if c.minor == 51 {
			if n := binary.BigEndian.Uint32(body[len(body)-4:]); n != 10000 {
				t.Errorf("stored iteration count %d, want openGauss's default 10000", n)
			}
		}
	}
	typ, body := startup(t, addr, app.User, 2)
	if typ != 'E' || !strings.Contains(string(body), "unsupported frontend protocol 3.2.") {
		t.Errorf("protocol 3.2: %q %q", typ, body)
	}
	typ, body = startup(t, addr, "omm", 51)
	if typ != 'E' || !strings.Contains(string(body), "Forbid remote connection with initial user.") {
		t.Errorf("the initial user over TCP: %q %q", typ, body)
	}
}

// A client that speaks only PostgreSQL's methods cannot log in, as on openGauss; xckit
// can, and a wrong password gets openGauss's refusal.
func TestFrontAuthentication(t *testing.T) {
	_, app := gaussAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	plain := app
	plain.Scheme = "postgres"
	plain.Params = nil
	if c, err := pgx.Connect(ctx, plain.URL()+"?sslmode=disable"); err == nil {
		c.Close(ctx)
		t.Error("plain pgx (PostgreSQL's SASL and md5 only) logged in to the lab's gauss")
	}
	wrong := app
	wrong.Password = "Not-the-pw-1"
	_, err := dbx.OpenDSN(ctx, wrong, dbx.Options{})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" || pgErr.Message != "Invalid username/password,login denied." {
		// dbx wraps the text: look at it too.
		if err == nil || !strings.Contains(err.Error(), "Invalid username/password,login denied.") {
			t.Errorf("wrong password: %v", err)
		}
	}
	db, err := dbx.OpenDSN(ctx, app, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect.Engine != dbx.OpenGauss {
		t.Errorf("dialect %+v", db.Dialect)
	}
}

// What openGauss refuses comes back with its error, in order and with the transaction
// state it would leave, over the simple and the extended protocol; a role made through
// the front can log in through it with the password of its statement.
func TestFrontGrammarAndRoles(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := labtest.FreshDatabase(t, env, labtest.Gauss, labtest.DatabaseName("front", t))
	db, err := dbx.Open(ctx, dsn, dbx.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id bigint PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	code := func(err error) string {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code + " " + pgErr.Message
		}
		return fmt.Sprint(err)
	}
	for _, c := range []struct {
		sql  string
		args []any
		want string
	}{
		{"INSERT INTO t VALUES (1, 'a') ON CONFLICT (id) DO NOTHING", nil, `42601 syntax error at or near "CONFLICT"`},
		{"INSERT INTO t VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", []any{1, "a"}, `42601 syntax error at or near "CONFLICT"`},
		{"SELECT pg_wal_lsn_diff($1, $2)", []any{"0/1", "0/0"}, "42883 function pg_wal_lsn_diff(...) does not exist"},
		{"SELECT pg_current_wal_lsn()", nil, "42883 function pg_current_wal_lsn() does not exist"},
		{"CREATE TABLE u (id bigint GENERATED BY DEFAULT AS IDENTITY)", nil, `42601 syntax error at or near "IDENTITY"`},
	} {
		_, err := db.ExecContext(ctx, c.sql, c.args...)
		if got := code(err); got != c.want {
			t.Errorf("%s: %s, want %s", c.sql, got, c.want)
		}
	}
	// In a transaction the refusal aborts it, as openGauss's error would.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx.ExecContext(ctx, "INSERT INTO t VALUES (7, 'in tx')")
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (8, 'x') ON CONFLICT DO NOTHING"); err == nil {
		t.Fatal("ON CONFLICT went through")
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1"); !strings.Contains(code(err), "25P02") {
		t.Errorf("after a refusal in a transaction: %v, want 25P02 (current transaction is aborted)", err)
	}
	tx.Rollback()
	// openGauss's own spellings work.
	var lsn, diff, banner string
	if err := db.QueryRowContext(ctx, "SELECT pg_current_xlog_location()").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT pg_xlog_location_diff($1, '0/0')::text", lsn).Scan(&diff); err != nil || diff == "" {
		t.Errorf("pg_xlog_location_diff: %q %v", diff, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&banner); err != nil || !strings.HasPrefix(banner, "(openGauss ") {
		t.Errorf("version(): %q %v", banner, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (1, 'a') ON DUPLICATE KEY UPDATE v = EXCLUDED.v`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (1, 'b') ON DUPLICATE KEY UPDATE v = EXCLUDED.v`); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "b" {
		t.Errorf("upsert: %q %v", v, err)
	}

	// Roles: the store learns the password of the statement; DROP forgets it.
	admin, err := dbx.Open(ctx, env.GaussAdminDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.ExecContext(ctx, "DROP ROLE IF EXISTS xc_front_role")
	if _, err := admin.ExecContext(ctx, "CREATE ROLE xc_front_role LOGIN PASSWORD 'weak'"); !strings.Contains(code(err), "28P01 Password must contain at least 8 characters.") {
		t.Errorf("a weak password: %v", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE ROLE xc_front_role LOGIN PASSWORD 'Front-pw-2026'"); err != nil {
		t.Fatal(err)
	}
	as, _ := dbx.ParseDSN(env.GaussDSN)
	as.User, as.Password = "xc_front_role", "Front-pw-2026"
	r, err := dbx.OpenDSN(ctx, as, dbx.Options{})
	if err != nil {
		t.Fatalf("a role made through the front: %v", err)
	}
	r.Close()
	if _, err := admin.ExecContext(ctx, "DROP ROLE xc_front_role"); err != nil {
		t.Fatal(err)
	}
	if r, err := dbx.OpenDSN(ctx, as, dbx.Options{}); err == nil {
		r.Close()
		t.Error("a dropped role still logs in")
	}
}

// gs_initdb's schema public: owning the database gives no CREATE there; and the only
// decoding plugins are openGauss's.
func TestFrontPrivilegesAndPlugins(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := labtest.DatabaseName("frontpriv", t)
	admin, err := dbx.Open(ctx, env.GaussAdminDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`"`)
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE "%s" OWNER pay TEMPLATE template0 DBCOMPATIBILITY 'PG'`, name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS "`+name+`"`) })
	app, _ := dbx.ParseDSN(env.GaussDSN)
	app.Database = name
	db, err := dbx.OpenDSN(ctx, app, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE mine (id int PRIMARY KEY)"); err == nil || !strings.Contains(err.Error(), "permission denied for schema public") {
		t.Errorf("the database's owner created a table in public: %v", err)
	}
	cdcDSN, _ := dbx.ParseDSN(env.GaussCDCDSN)
	cdcDB, err := dbx.OpenDSN(ctx, cdcDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cdcDB.Close()
	for _, plugin := range []string{"test_decoding", "wal2json"} {
		_, err := cdcDB.ExecContext(ctx, "SELECT pg_create_logical_replication_slot($1, $2)", "xc_front_"+plugin, plugin)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`could not access file "%s": No such file or directory`, plugin)) {
			cdcDB.ExecContext(ctx, "SELECT pg_drop_replication_slot($1)", "xc_front_"+plugin)
			t.Errorf("%s on the lab's gauss: %v", plugin, err)
		}
	}
}

// A refused statement inside a pipelined batch is answered in its place; one after an
// earlier error of the batch (PostgreSQL then skips to the Sync) still ends the batch:
// the connection answers the next statement, it never hangs.
func TestFrontRefusalInsideBatches(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// exec mode: each statement of a batch goes out as Parse, Bind, Execute before one
	// Sync (the default mode prepares them all first, where a refusal fails the batch).
	d, _ := dbx.ParseDSN(env.GaussDSN)
	d.Params.Set("default_query_exec_mode", "exec")
	db, err := dbx.OpenDSN(ctx, d, dbx.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.WithPipe(ctx, func(p *dbx.Pipe) error {
		for _, c := range []struct {
			name  string
			stmts []dbx.Stmt
			codes []string // per statement: "" ok, else the SQLSTATE
		}{
			{"refused in the middle", []dbx.Stmt{{SQL: "SELECT 1"}, {SQL: "SELECT pg_current_wal_lsn()"}, {SQL: "SELECT 2"}}, []string{"", "42883", "?"}},
			{"refused after an error", []dbx.Stmt{{SQL: "SELECT 1/0"}, {SQL: "SELECT pg_current_wal_lsn()"}}, []string{"22012", "?"}},
			{"refused first", []dbx.Stmt{{SQL: "SELECT pg_wal_lsn_diff($1, $2)", Args: []any{"0/1", "0/0"}}, {SQL: "SELECT 3"}}, []string{"42883", "?"}},
		} {
			_, errs := p.Batch(ctx, c.stmts...)
			for i, want := range c.codes {
				var pgErr *pgconn.PgError
				switch {
				case want == "" && errs[i] != nil:
					t.Errorf("%s: statement %d: %v", c.name, i+1, errs[i])
				case want == "?" && errs[i] == nil:
					t.Errorf("%s: statement %d after the failure ran", c.name, i+1)
				case want != "" && want != "?" && (!errors.As(errs[i], &pgErr) || pgErr.Code != want):
					t.Errorf("%s: statement %d: %v, want %s", c.name, i+1, errs[i], want)
				}
			}
			var n int
			if err := p.QueryRow(ctx, "SELECT 42", nil, &n); err != nil || n != 42 {
				return fmt.Errorf("%s: the connection after the batch: %v %d", c.name, err, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openGauss's upsert may not set a unique column: the lab refuses it as openGauss
// does, from the table's own unique indexes.
func TestFrontUpsertOfAUniqueColumn(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dsn := labtest.FreshDatabase(t, env, labtest.Gauss, labtest.DatabaseName("frontuniq", t))
	db, err := dbx.Open(ctx, dsn, dbx.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE acct (id bigint PRIMARY KEY, iban text UNIQUE, bal bigint)"); err != nil {
		t.Fatal(err)
	}
	ok := `INSERT INTO acct (id, iban, bal) VALUES (1, 'x', 5) ON DUPLICATE KEY UPDATE bal = EXCLUDED.bal`
	bad := `INSERT INTO acct (id, iban, bal) VALUES (1, 'y', 6) ON DUPLICATE KEY UPDATE bal = EXCLUDED.bal, iban = EXCLUDED.iban`
	for _, q := range []string{ok, ok} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, bad); err == nil || !strings.Contains(err.Error(), "don't allow update on primary key or unique key") {
		t.Errorf("setting a unique column: %v", err)
	}
}
