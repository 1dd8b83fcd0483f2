package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// gauss is the openGauss stand-in: a PostgreSQL cluster with wal_level=logical and
// md5 password authentication, as openGauss's compatibility settings use.
type gauss struct {
	s   State
	log *slog.Logger
	as  runAs
	dir string
}

func newGauss(s State, log *slog.Logger) (*gauss, error) {
	as, err := unprivileged()
	if err != nil {
		return nil, err
	}
	return &gauss{s: s, log: log, as: as, dir: filepath.Join(s.Dir, "gauss")}, nil
}

func (g *gauss) name() string    { return "gauss" }
func (g *gauss) data() string    { return filepath.Join(g.dir, "data") }
func (g *gauss) pid() int        { return readPID(filepath.Join(g.data(), "postmaster.pid")) }
func (g *gauss) running() bool   { return alive(g.pid(), "postgres") }
func (g *gauss) logFile() string { return filepath.Join(g.dir, "postgres.log") }

func (g *gauss) up(ctx context.Context) error {
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return err
	}
	if g.as.name != "" {
		if err := reachable(g.dir, g.as); err != nil {
			return err
		}
		if err := os.Chown(g.dir, g.as.uid, g.as.gid); err != nil {
			return fmt.Errorf("give %s to %s: %w", g.dir, g.as.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(g.data(), "PG_VERSION")); err != nil {
		if err := g.initdb(ctx); err != nil {
			return err
		}
	}
	if !g.running() {
		if !portFree(g.s.GaussPort) {
			return fmt.Errorf("port %d is taken by another program: stop it or create the lab with --gauss-port", g.s.GaussPort)
		}
		pgctl, err := findBinary("pg_ctl")
		if err != nil {
			return err
		}
		cmd, err := g.as.command(ctx, pgctl, "-D", g.data(), "-l", g.logFile(), "-w", "-t", "60", "start")
		if err != nil {
			return err
		}
		if err := run(cmd); err != nil {
			return fmt.Errorf("start PostgreSQL (log: %s): %w", g.logFile(), err)
		}
	}
	return g.bootstrap(ctx)
}

func (g *gauss) initdb(ctx context.Context) error {
	initdb, err := findBinary("initdb")
	if err != nil {
		return err
	}
	g.log.Info("lab: initdb", "dir", g.data())
	cmd, err := g.as.command(ctx, initdb, "-D", g.data(), "-U", g.s.GaussAdminUser, "-E", "UTF8",
		"--locale=C.UTF-8", "--auth-local=trust", "--auth-host=md5")
	if err != nil {
		return err
	}
	if err := run(cmd); err != nil {
		return err
	}
	conf := fmt.Sprintf(`
# --- xckit lab: the openGauss stand-in ---
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
unix_socket_permissions = 0700
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 300
password_encryption = md5
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
`, g.s.GaussPort, g.dir)
	f, err := os.OpenFile(filepath.Join(g.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The socket is reachable only by the cluster's owner (and root): trust there,
	// md5 over TCP for everyone else, replication included (the CDC connects so).
	hba := "local all all trust\nhost all all 127.0.0.1/32 md5\nhost replication all 127.0.0.1/32 md5\n"
	if err := os.WriteFile(filepath.Join(g.data(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	if g.as.name != "" {
		return os.Chown(filepath.Join(g.data(), "pg_hba.conf"), g.as.uid, g.as.gid)
	}
	return nil
}

// bootstrap sets the passwords and creates the application role and database; each
// statement is safe to repeat.
func (g *gauss) bootstrap(ctx context.Context) error {
	sock := fmt.Sprintf("postgres://%s@localhost/postgres?host=%s&port=%d", g.s.GaussAdminUser, g.dir, g.s.GaussPort)
	var db *dbx.DB
	err := waitFor(ctx, "gauss", 30*time.Second, func() error {
		var err error
		db, err = dbx.Open(ctx, sock, dbx.Options{AppName: "xckit-lab"})
		return err
	})
	if err != nil {
		return err
	}
	defer db.Close()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	stmts := []string{
		"SET password_encryption = 'md5'",
		fmt.Sprintf("ALTER ROLE %s PASSWORD %s", g.s.GaussAdminUser, lit(g.s.GaussAdminPass)),
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", g.s.AppUser).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		stmts = append(stmts, fmt.Sprintf("CREATE ROLE %s LOGIN", g.s.AppUser))
	}
	stmts = append(stmts, fmt.Sprintf("ALTER ROLE %s LOGIN PASSWORD %s", g.s.AppUser, lit(g.s.GaussAppPass)))
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("gauss bootstrap: %s", dbx.Redact(strings.ReplaceAll(err.Error(), g.s.GaussAppPass, "xxxxx")))
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", g.s.Database).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s ENCODING 'UTF8'", g.s.Database, g.s.AppUser)); err != nil {
			return fmt.Errorf("gauss bootstrap: create database: %w", err)
		}
	}
	return nil
}

func (g *gauss) down(ctx context.Context) error {
	// SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint.
	return stopPID(g.pid(), "postgres", syscall.SIGINT, 30*time.Second)
}

func (g *gauss) status(ctx context.Context) Part {
	p := Part{Name: "gauss", Role: "openGauss stand-in (PostgreSQL)", PID: g.pid(), Port: g.s.GaussPort}
	p.Running = g.running()
	if !p.Running {
		p.PID, p.Detail = 0, "not running"
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
	p.Healthy, p.Detail = true, db.Dialect.Name()+", app user "+g.s.AppUser+" (md5)"
	return p
}
