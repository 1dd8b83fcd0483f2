package lab

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/lab/gaussfront"
)

// OpenGaussVersion is the openGauss release the lab's gauss presents itself as.
const OpenGaussVersion = "5.0.0"

// Banner is the lab's version() answer, in openGauss's layout (version.cpp,
// PG_VERSION_STR: "(openGauss V build B) compiled at ... on HOST, compiled by CC,
// 64-bit"), saying what it really is.
func Banner() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return fmt.Sprintf("(openGauss %s build xckit-lab) compiled at 2026-12-01 00:00:00 commit 0 last mr   on %s-unknown-linux-gnu, compiled by the xckit lab (PostgreSQL 15 behind an openGauss front), 64-bit",
		OpenGaussVersion, arch)
}

// compatSQL gives every database of the lab's cluster openGauss's names for what the
// kit calls (builtin_funcs.ini: pg_current_xlog_location() text,
// pg_xlog_location_diff(text, text) numeric, pg_terminate_session(bigint, bigint)
// boolean), and gs_initdb's schema public: owned by the initial user, no CREATE for
// PUBLIC. Functions go into pg_catalog, as openGauss has them there.
func compatSQL(initialUser string) []string {
	diff := func(a, b string) string {
		return fmt.Sprintf("CREATE OR REPLACE FUNCTION pg_catalog.pg_xlog_location_diff(%s, %s) RETURNS numeric LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)'", a, b)
	}
	return []string{
		"SET allow_system_table_mods = on",
		"CREATE OR REPLACE FUNCTION pg_catalog.pg_current_xlog_location() RETURNS text LANGUAGE sql VOLATILE AS 'SELECT pg_catalog.pg_current_wal_lsn()::text'",
		"CREATE OR REPLACE FUNCTION pg_catalog.pg_current_xlog_insert_location() RETURNS text LANGUAGE sql VOLATILE AS 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text'",
		// A standby's received position (openGauss: xlogfuncs.cpp, text).
		"CREATE OR REPLACE FUNCTION pg_catalog.pg_last_xlog_receive_location() RETURNS text LANGUAGE sql VOLATILE AS 'SELECT pg_catalog.pg_last_wal_receive_lsn()::text'",
		diff("text", "text"), diff("pg_lsn", "pg_lsn"), diff("text", "pg_lsn"), diff("pg_lsn", "text"),
		"CREATE OR REPLACE FUNCTION pg_catalog.pg_terminate_session(bigint, bigint) RETURNS boolean LANGUAGE sql VOLATILE STRICT AS 'SELECT pg_catalog.pg_terminate_backend($1::integer)'",
		"RESET allow_system_table_mods",
		fmt.Sprintf(`ALTER SCHEMA public OWNER TO "%s"`, initialUser),
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
	}
}

// bootstrap makes the roles, the platform's database and openGauss's names; each
// statement is safe to repeat. It talks to PostgreSQL through its socket.
func (g *gauss) bootstrap(ctx context.Context) error {
	var db *dbx.DB
	err := waitFor(ctx, "gauss", 30*time.Second, func() error {
		var err error
		db, err = dbx.Open(ctx, g.socketDSN("postgres"), dbx.Options{AppName: "xckit-lab"})
		return err
	})
	if err != nil {
		return err
	}
	defer db.Close()
	roles := []struct{ name, attrs, method, password string }{
		// PostgreSQL's superuser stands for openGauss's SYSADMIN.
		{g.s.GaussAdminUser, "SUPERUSER LOGIN", "sha256", g.s.GaussAdminPass},
		{g.s.AppUser, "LOGIN", "sha256", g.s.GaussAppPass},
		{g.s.GaussCDCUser, "LOGIN REPLICATION", "sm3", g.s.GaussCDCPass},
	}
	users := g.users()
	for _, r := range roles {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", r.name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE ROLE "%s" %s`, r.name, r.attrs)); err != nil {
				return fmt.Errorf("gauss bootstrap: create role %s: %w", r.name, err)
			}
		}
		// The password lives in the front's store only (PostgreSQL trusts its socket);
		// one a test or the installer set since is kept.
		if _, ok, err := users.Lookup(r.name); err != nil {
			return err
		} else if !ok {
			if err := users.SetMethod(r.name, r.method); err != nil {
				return err
			}
			if err := users.SetPassword(r.name, r.password); err != nil {
				return err
			}
		}
	}
	if _, err := db.ExecContext(ctx, "ALTER DATABASE template0 ALLOW_CONNECTIONS true"); err != nil {
		return fmt.Errorf("gauss bootstrap: %w", err)
	}
	err = g.compat(ctx, "template0")
	if _, err2 := db.ExecContext(ctx, "ALTER DATABASE template0 ALLOW_CONNECTIONS false"); err == nil {
		err = err2
	}
	if err != nil {
		return err
	}
	for _, name := range []string{"template1", "postgres"} {
		if err := g.compat(ctx, name); err != nil {
			return err
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", g.s.Database).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE "%s" OWNER "%s" ENCODING 'UTF8'`, g.s.Database, g.s.AppUser)); err != nil {
			return fmt.Errorf("gauss bootstrap: create database: %w", err)
		}
	}
	return nil
}

func (g *gauss) compat(ctx context.Context, database string) error {
	db, err := dbx.Open(ctx, g.socketDSN(database), dbx.Options{AppName: "xckit-lab", MaxOpenConns: 1})
	if err != nil {
		return fmt.Errorf("gauss bootstrap: %w", err)
	}
	defer db.Close()
	for _, q := range compatSQL(g.s.GaussInitialUser) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("gauss bootstrap (%s): %s: %w", database, q, err)
		}
	}
	return nil
}

//go:embed plugin/mppdb_decoding.c
var mppdbSource []byte

// buildPlugin compiles the lab's mppdb_decoding for the PostgreSQL the lab runs (when
// its source changed), and links pgoutput beside it: the only output plugins the
// lab's gauss can load, as openGauss ships.
func buildPlugin(ctx context.Context, libDir string, as runAs) error {
	so, src := filepath.Join(libDir, "mppdb_decoding.so"), filepath.Join(libDir, "mppdb_decoding.c")
	if have, err := os.ReadFile(src); err == nil && bytes.Equal(have, mppdbSource) {
		_, errWal := os.Stat(filepath.Join(libDir, "libpqwalreceiver.so"))
		if _, err := os.Stat(so); err == nil && errWal == nil {
			return nil
		}
	}
	initdb, err := findBinary("initdb")
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real // PostgreSQL's versioned directory holds its pg_config
	}
	pgconfig := filepath.Join(filepath.Dir(initdb), "pg_config")
	if _, err := os.Stat(pgconfig); err != nil {
		return fmt.Errorf("%s not found: the lab builds its mppdb_decoding plugin with PostgreSQL's server headers: apt-get install postgresql-server-dev-15 (or run make setup)", pgconfig)
	}
	query := func(arg string) (string, error) {
		out, err := exec.CommandContext(ctx, pgconfig, arg).Output()
		return strings.TrimSpace(string(out)), err
	}
	inc, err := query("--includedir-server")
	if err != nil {
		return fmt.Errorf("pg_config --includedir-server: %w", err)
	}
	if _, err := os.Stat(filepath.Join(inc, "postgres.h")); err != nil {
		return fmt.Errorf("PostgreSQL's server headers are missing (%s): apt-get install postgresql-server-dev-15 (or run make setup)", inc)
	}
	pkglib, err := query("--pkglibdir")
	if err != nil {
		return fmt.Errorf("pg_config --pkglibdir: %w", err)
	}
	cc, err := findBinary("cc")
	if err != nil {
		return fmt.Errorf("the lab builds its mppdb_decoding plugin with a C compiler: %w", err)
	}
	if err := os.MkdirAll(libDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(src, mppdbSource, 0o644); err != nil {
		return err
	}
	tmp := so + ".tmp"
	if err := run(exec.CommandContext(ctx, cc, "-fPIC", "-shared", "-O2", "-I", inc, "-o", tmp, src)); err != nil {
		os.Remove(src) // built again next time
		return fmt.Errorf("build the lab's mppdb_decoding: %w", err)
	}
	if err := os.Rename(tmp, so); err != nil {
		return err
	}
	// pgoutput (openGauss ships it) and the walreceiver a standby loads to follow its
	// primary: the library path is this directory alone.
	for _, lib := range []string{"pgoutput.so", "libpqwalreceiver.so"} {
		link := filepath.Join(libDir, lib)
		os.Remove(link)
		if err := os.Symlink(filepath.Join(pkglib, lib), link); err != nil {
			return err
		}
	}
	return nil
}

// frontBinary is the xckit that serves the front (`xckit lab gauss-front`): the
// lab's XckitBin, $XCKIT_BIN, or this program when it is xckit.
func frontBinary(bin string) (string, error) {
	if bin == "" {
		bin = os.Getenv("XCKIT_BIN")
	}
	if bin == "" {
		self, err := os.Executable()
		if err == nil && strings.HasPrefix(filepath.Base(self), "xckit") && !strings.HasSuffix(self, ".test") {
			bin = self
		}
	}
	if bin == "" {
		return "", fmt.Errorf("the lab's gauss front runs as `xckit lab gauss-front`: set XCKIT_BIN to an xckit binary (make build makes bin/xckit)")
	}
	return filepath.Abs(bin)
}

func (g *gauss) startFront(ctx context.Context) error {
	if g.frontRunning() {
		return nil
	}
	return startFrontProcess(ctx, frontSpec{bin: g.bin, labDir: g.s.Dir, port: g.s.GaussPort,
		log: filepath.Join(g.dir, "front.log"), pidFile: g.frontPIDFile()})
}

// RunFront serves the lab's gauss front until ctx ends (`xckit lab gauss-front`):
// node 0 stands before the primary, node n before standby n.
func RunFront(ctx context.Context, dir string, node int, log *slog.Logger) error {
	o := Options{Dir: dir, Log: log}.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no lab in %s", o.Dir)
	}
	g := &gauss{s: s, log: o.Log, dir: filepath.Join(s.Dir, "gauss")}
	port, socket := s.GaussPort, g.socket()
	if node > 0 {
		if node > s.GaussStandbys {
			return fmt.Errorf("the lab in %s has %d gauss standbys, not %d", o.Dir, s.GaussStandbys, node)
		}
		sb := &standby{g: g, n: node}
		port, socket = sb.frontPort(), sb.socket()
	}
	// One store of verifiers for every node: on openGauss they live in the catalog,
	// which the standbys replay.
	return gaussfront.Serve(ctx, gaussfront.Options{
		Listen: fmt.Sprintf("127.0.0.1:%d", port), Socket: socket, Users: g.users(),
		Banner: Banner(), InitialUser: s.GaussInitialUser, Log: o.Log,
	})
}

func (g *gauss) down(ctx context.Context) error {
	ferr := proc.Stop(ctx, g.frontPID(), proc.StopOptions{Is: frontProcess, Grace: 10 * time.Second, Kill: true})
	if errors.Is(ferr, proc.ErrForced) {
		ferr = nil // it is stopped; the lab keeps nothing it could lose
	}
	// SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint.
	if err := stopPID(g.pid(), "postgres", syscall.SIGINT, 30*time.Second); err != nil {
		return err
	}
	return ferr
}

func (g *gauss) status(ctx context.Context) Part {
	p := Part{Name: "gauss", Role: "openGauss stand-in (PostgreSQL 15 behind an openGauss front)", PID: g.pid(), Port: g.s.GaussPort}
	p.Running = g.running() && g.frontRunning()
	switch {
	case !g.running():
		p.PID, p.Detail = 0, "not running"
		return p
	case !g.frontRunning():
		p.Detail = "PostgreSQL runs, its openGauss front does not: xckit lab up starts it"
		return p
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := dbx.Open(cctx, g.s.env().GaussDSN, dbx.Options{ConnectTimeout: 3 * time.Second, AppName: "xckit-lab"})
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	defer db.Close()
	p.Healthy = true
	p.Detail = fmt.Sprintf("%s, app user %s (sha256), front pid %d", db.Dialect.Name(), g.s.AppUser, g.frontPID())
	return p
}
