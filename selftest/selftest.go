package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// Options name the databases to prove.
type Options struct {
	DB      string // the platform's DSN: its role and its database
	AdminDB string // an administrator (openGauss: not the initial user)
	CDCDB   string // the CDC user's DSN; default the administrator on the platform's database
	Timeout time.Duration
}

// Check is one proof.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the whole self-test.
type Report struct {
	Server    string   `json:"server"`
	Target    string   `json:"target"` // the platform's DSN, password hidden
	Checks    []Check  `json:"checks"`
	Leftovers []string `json:"leftovers"` // what the cleanup found still there (none when it passed)
	OK        bool     `json:"ok"`
}

type run struct {
	o                 Options
	app, admin, cdc   *dbx.DB
	appDSN            dbx.DSN
	table, slot, role string
	copySlot          string // the slot-copy check's own slot
}

// Run proves the databases; the error is for options it cannot use, every finding is
// a check in the report.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	app, err := dbx.ParseDSN(o.DB)
	if err != nil {
		return Report{}, fmt.Errorf("--db: %w", err)
	}
	for flag, dsn := range map[string]string{"--db": o.DB, "--admin-db": o.AdminDB, "--cdc-db": o.CDCDB} {
		if dsn == "" && flag == "--cdc-db" {
			continue
		}
		d, err := dbx.ParseDSN(dsn)
		if err != nil {
			return Report{}, fmt.Errorf("%s: %w", flag, err)
		}
		if d.Family != dbx.FamilyPostgres {
			return Report{}, fmt.Errorf("%s %s: selftest proves an openGauss: give an opengauss:// DSN", flag, d)
		}
	}
	b := make([]byte, 4)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	r := &run{o: o, appDSN: app, table: "xckit_selftest_" + suffix, slot: "xckit_selftest_" + suffix, role: "xckit_selftest_fence_" + suffix,
		copySlot: "xckit_selftest_copy_" + suffix}
	rep := Report{Target: app.String()}
	steps := []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"login", r.login},
		{"server", r.server},
		{"compatibility", r.compatibility},
		{"create", r.create},
		{"xlog", r.xlog},
		{"decode", r.decode},
		{"slot-copy", r.slotCopy},
		{"upsert", r.upsert},
		{"fence", r.fence},
	}
	for _, s := range steps {
		sctx, cancel := context.WithTimeout(ctx, o.Timeout)
		detail, err := s.fn(sctx)
		cancel()
		c := Check{Name: s.name, OK: err == nil, Detail: detail}
		if err != nil {
			c.Detail = dbx.Redact(err.Error())
		}
		rep.Checks = append(rep.Checks, c)
		if s.name == "server" && r.app != nil {
			rep.Server = r.app.Dialect.Name()
		}
		if ctx.Err() != nil {
			break
		}
	}
	// Cleanup runs even after Ctrl-C, within its own deadline.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Timeout)
	defer cancel()
	left, err := r.cleanup(cctx)
	rep.Leftovers = left
	c := Check{Name: "cleanup", OK: err == nil && len(left) == 0, Detail: "nothing left behind: no " + r.table + " table, slot or fence role"}
	switch {
	case err != nil:
		c.Detail = dbx.Redact(err.Error())
	case len(left) > 0:
		c.Detail = "still there: " + strings.Join(left, ", ")
	}
	rep.Checks = append(rep.Checks, c)
	r.close()
	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && c.OK
	}
	return rep, ctx.Err()
}

func (r *run) close() {
	for _, db := range []*dbx.DB{r.app, r.admin, r.cdc} {
		if db != nil {
			db.Close()
		}
	}
}

var errSkipped = errors.New("not run: an earlier check failed")

// login connects with each DSN once by itself, to read the method the server asked
// for, then opens the connections the other checks use.
func (r *run) login(ctx context.Context) (string, error) {
	cdcDSN := r.o.CDCDB
	if cdcDSN == "" {
		d, _ := dbx.ParseDSN(r.o.AdminDB)
		d.Database = r.appDSN.Database
		cdcDSN = d.URL()
	}
	var parts []string
	open := func(flag, raw string, dst **dbx.DB) error {
		d, _ := dbx.ParseDSN(raw)
		if flag == "--cdc-db" && r.o.CDCDB == "" {
			parts = append(parts, "the CDC connection is --admin-db's user on "+d.Database)
		} else {
			method, err := dbx.LoginMethod(ctx, raw, 10*time.Second)
			if err != nil {
				return fmt.Errorf("%s: %w", flag, err)
			}
			parts = append(parts, fmt.Sprintf("%s (%s): %s", d.User, flag, method))
		}
		db, err := dbx.Open(ctx, raw, dbx.Options{AppName: "xckit-selftest", MaxOpenConns: 4})
		if err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
		*dst = db
		return nil
	}
	if err := open("--db", r.o.DB, &r.app); err != nil {
		return "", err
	}
	if err := open("--admin-db", r.o.AdminDB, &r.admin); err != nil {
		return "", err
	}
	if err := open("--cdc-db", cdcDSN, &r.cdc); err != nil {
		return "", err
	}
	return strings.Join(parts, "; "), nil
}

func (r *run) server(ctx context.Context) (string, error) {
	if r.app == nil {
		return "", errSkipped
	}
	d := r.app.Dialect
	if d.Engine != dbx.OpenGauss {
		return "", fmt.Errorf("%s: xckit selftest proves an openGauss (the banner has no \"openGauss\": %s)", d.Name(), d.Banner)
	}
	if !d.VersionAtLeast(dbx.MinCDCOpenGauss) {
		return "", fmt.Errorf("%s: xckit needs openGauss %s or later", d.Name(), dbx.MinCDCOpenGauss)
	}
	v, err := r.app.Setting(ctx, "server_version")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (server_version %s)", d.Name(), v), nil
}

func (r *run) compatibility(ctx context.Context) (string, error) {
	if r.app == nil {
		return "", errSkipped
	}
	var mode string
	if err := r.app.QueryRowContext(ctx, "SELECT datcompatibility FROM pg_database WHERE datname = current_database()").Scan(&mode); err != nil {
		return "", fmt.Errorf("read the database's compatibility mode: %w", err)
	}
	if !strings.EqualFold(mode, "PG") {
		return "", fmt.Errorf("%s is in compatibility mode %s: xckit's platform runs in PG mode ('' is NULL in A mode, VARCHAR(n) counts bytes); create it with DBCOMPATIBILITY 'PG' (xckit install does)", r.appDSN.Database, mode)
	}
	return "database " + r.appDSN.Database + " is in mode " + mode, nil
}

// create proves the platform's role may create tables where it lives, with a table of
// every column type the platform uses.
func (r *run) create(ctx context.Context) (string, error) {
	if r.app == nil {
		return "", errSkipped
	}
	var schema string
	if err := r.app.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", err
	}
	q := fmt.Sprintf(`CREATE TABLE %s (id BIGINT PRIMARY KEY, amount NUMERIC(20,2), customer VARCHAR(64), currency CHAR(3),
		note TEXT, ok BOOLEAN, created_at TIMESTAMP(6), paid_at TIMESTAMPTZ, n INTEGER)`, r.table)
	if _, err := r.app.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("%s may not create tables in schema %s: %w (xckit install grants CREATE and USAGE on it)", r.appDSN.User, schema, err)
	}
	return fmt.Sprintf("%s created %s in schema %s", r.appDSN.User, r.table, schema), nil
}

// xlog proves the LSN functions the CDC and the checks call.
func (r *run) xlog(ctx context.Context) (string, error) {
	if r.cdc == nil {
		return "", errSkipped
	}
	d := r.cdc.Dialect
	var lsn, diff string
	if err := r.cdc.QueryRowContext(ctx, d.CurrentLSNSQL()).Scan(&lsn); err != nil {
		return "", fmt.Errorf("%s: %w", d.CurrentLSNSQL(), err)
	}
	q := "SELECT (" + d.LSNDiffExpr(d.Placeholder(1), d.Placeholder(1)) + ")::text"
	if err := r.cdc.QueryRowContext(ctx, q, lsn).Scan(&diff); err != nil {
		return "", fmt.Errorf("%s: %w", q, err)
	}
	if diff != "0" {
		return "", fmt.Errorf("%s of a position with itself is %s, not 0", q, diff)
	}
	return fmt.Sprintf("current position %s; %s = 0", lsn, d.LSNDiffExpr("x", "x")), nil
}

// upsert proves the dialect's insert-or-update form.
func (r *run) upsert(ctx context.Context) (string, error) {
	if r.app == nil {
		return "", errSkipped
	}
	d := r.app.Dialect
	q := fmt.Sprintf("INSERT INTO %s (id, customer) VALUES (%s) %s", r.table, d.Placeholders(1, 2), d.UpsertClause([]string{"id"}, []string{"customer"}))
	for _, who := range []string{"first", "second"} {
		if _, err := r.app.ExecContext(ctx, q, 900, who); err != nil {
			return "", fmt.Errorf("%s: %w", q, err)
		}
	}
	var n int
	var got string
	if err := r.app.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*), max(customer) FROM %s WHERE id = 900", r.table)).Scan(&n, &got); err != nil {
		return "", err
	}
	if n != 1 || got != "second" {
		return "", fmt.Errorf("after two upserts of one key: %d rows, customer %q (want 1 row, \"second\")", n, got)
	}
	return d.UpsertClause([]string{"id"}, []string{"customer"}) + ": inserted, then updated", nil
}

// cleanup removes what the checks made and lists what is still there.
func (r *run) cleanup(ctx context.Context) ([]string, error) {
	var errs []error
	if r.app != nil {
		if _, err := r.app.ExecContext(ctx, "DROP TABLE IF EXISTS "+r.table); err != nil {
			errs = append(errs, fmt.Errorf("drop table %s: %w", r.table, err))
		}
	}
	if r.cdc != nil {
		for _, slot := range []string{r.slot, r.copySlot} {
			if err := dropSlot(ctx, r.cdc, slot); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if r.admin != nil {
		if _, err := r.admin.ExecContext(ctx, "DROP ROLE IF EXISTS "+r.role); err != nil {
			errs = append(errs, fmt.Errorf("drop role %s: %w", r.role, err))
		}
	}
	var left []string
	list := func(db *dbx.DB, what, q, name string) {
		if db == nil {
			return
		}
		var n int
		if err := db.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
			errs = append(errs, fmt.Errorf("list %ss: %w", what, err))
		} else if n > 0 {
			left = append(left, what+" "+name)
		}
	}
	list(r.app, "table", "SELECT count(*) FROM pg_class WHERE relname = $1", r.table)
	list(r.cdc, "slot", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", r.slot)
	list(r.cdc, "slot", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", r.copySlot)
	list(r.admin, "role", "SELECT count(*) FROM pg_roles WHERE rolname = $1", r.role)
	return left, errors.Join(errs...)
}

func dropSlot(ctx context.Context, db *dbx.DB, slot string) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil {
		return fmt.Errorf("look for slot %s: %w", slot, err)
	}
	if n == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, db.Dialect.DropSlotSQL(), slot); err != nil {
		return fmt.Errorf("drop slot %s: %w", slot, err)
	}
	return nil
}
