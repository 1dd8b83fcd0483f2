package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/lab/gaussfront"
)

// gauss is the openGauss stand-in: a PostgreSQL 15 cluster reachable only through its
// unix socket, behind the gauss front (lab/gaussfront), which listens on the lab's
// gauss port and behaves as openGauss does where PostgreSQL would not: its handshake
// (sha256/sm3 verifiers, 10000 iterations, the layout by protocol minor), its grammar
// and names, its initial user. The cluster is made the way gs_initdb makes one: the
// initial user (omm) owns schema public of every database and nobody else may create
// in it; the kit's administrator is another role; the CDC user has REPLICATION and
// what it is granted, nothing more. docs/opengauss.md lists what is reproduced.
type gauss struct {
	s   State
	log *slog.Logger
	as  runAs
	dir string
	bin string // the xckit that runs the front
}

func newGauss(s State, o Options) (*gauss, error) {
	as, err := unprivileged()
	if err != nil {
		return nil, err
	}
	return &gauss{s: s, log: o.Log, as: as, dir: filepath.Join(s.Dir, "gauss"), bin: o.XckitBin}, nil
}

func (g *gauss) name() string         { return "gauss" }
func (g *gauss) data() string         { return filepath.Join(g.dir, "data") }
func (g *gauss) pid() int             { return readPID(filepath.Join(g.data(), "postmaster.pid")) }
func (g *gauss) running() bool        { return alive(g.pid(), "postgres") }
func (g *gauss) logFile() string      { return filepath.Join(g.dir, "postgres.log") }
func (g *gauss) frontPIDFile() string { return filepath.Join(g.dir, "front.pid") }
func (g *gauss) frontPID() int        { return readPID(g.frontPIDFile()) }
func (g *gauss) frontRunning() bool   { return frontAlive(g.frontPID()) }

// frontAlive: pid runs `<xckit> lab gauss-front` (whatever the binary is called).
func frontAlive(pid int) bool { return proc.Alive(pid, frontProcess) }

var frontProcess = proc.Is{Args: []string{"lab", "gauss-front"}}

func (g *gauss) up(ctx context.Context) error {
	if g.s.GaussInitialUser == "" {
		return fmt.Errorf("this lab was made by an older xckit, whose gauss is a plain PostgreSQL: run `xckit lab down --purge --dir %s` and `xckit lab up` again", g.s.Dir)
	}
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
	if err := buildPlugin(ctx, filepath.Join(g.dir, "lib"), g.as); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(g.data(), "PG_VERSION")); err != nil {
		if err := g.initdb(ctx); err != nil {
			return err
		}
	}
	if err := g.allowPlugins(ctx); err != nil {
		return err
	}
	if !g.running() {
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
	if err := g.bootstrap(ctx); err != nil {
		return err
	}
	return g.startFront(ctx)
}

func (g *gauss) initdb(ctx context.Context) error {
	initdb, err := findBinary("initdb")
	if err != nil {
		return err
	}
	g.log.Info("lab: initdb", "dir", g.data())
	cmd, err := g.as.command(ctx, initdb, "-D", g.data(), "-U", g.s.GaussInitialUser, "-E", "UTF8",
		"--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject")
	if err != nil {
		return err
	}
	if err := run(cmd); err != nil {
		return err
	}
	// TCP only on the port above the front's, for tests of xckit's PostgreSQL support
	// (md5 and SCRAM logins): the kit's openGauss paths go through the front. Output plugins
	// load from the lab's own directory only, as openGauss ships mppdb_decoding (and
	// pgoutput) and neither test_decoding nor wal2json.
	conf := fmt.Sprintf(`
# --- xckit lab: the PostgreSQL behind the openGauss front ---
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
unix_socket_permissions = 0700
dynamic_library_path = '%s'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
log_min_error_statement = panic  # a failed ALTER ROLE ... PASSWORD never reaches the log
`, g.s.GaussPort+1, g.dir, filepath.Join(g.dir, "lib"))
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
	// The socket is reachable only by the cluster's owner and root (the front runs as
	// root): the front authenticates, PostgreSQL trusts what reaches its socket.
	// Over TCP only the roles of the PostgreSQL-support tests (internal/dbx): no role of
	// the kit's can go round the front.
	hba := "local all all trust\nlocal replication all trust\nhost all xc_scram_user,xc_md5_user 127.0.0.1/32 md5\n"
	if err := os.WriteFile(filepath.Join(g.data(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	if g.as.name != "" {
		return os.Chown(filepath.Join(g.data(), "pg_hba.conf"), g.as.uid, g.as.gid)
	}
	return nil
}

// socket is PostgreSQL's socket file, the front's way in.
func (g *gauss) socket() string {
	return filepath.Join(g.dir, fmt.Sprintf(".s.PGSQL.%d", g.s.GaussPort+1))
}

// socketDSN reaches PostgreSQL itself as the initial user, for the lab's own set-up.
func (g *gauss) socketDSN(db string) string {
	return fmt.Sprintf("postgres://%s@localhost/%s?host=%s&port=%d", g.s.GaussInitialUser, db, g.dir, g.s.GaussPort+1)
}

func (g *gauss) users() gaussfront.Users {
	return gaussfront.Users{Path: filepath.Join(g.dir, "users.json"), Iteration: gaussfront.DefaultIteration}
}

// allowPlugins lets the lab's output plugins be named by REPLICATION users where the
// PostgreSQL has output_plugin_libraries (Debian's 15.20 added it, default
// "pgoutput, test_decoding"): mppdb_decoding is what openGauss ships. Which
// libraries load at all stays limited by dynamic_library_path (the lab's own
// directory). A running server reloads.
func (g *gauss) allowPlugins(ctx context.Context) error {
	postgres, err := findBinary("postgres")
	if err != nil {
		return nil // pg_ctl's own lookup reports a missing PostgreSQL
	}
	if real, err := filepath.EvalSymlinks(postgres); err == nil {
		postgres = real
	}
	out, _ := exec.CommandContext(ctx, postgres, "--describe-config").Output()
	if !strings.Contains(string(out), "output_plugin_libraries") {
		return nil
	}
	conf := filepath.Join(g.data(), "postgresql.conf")
	have, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	const line = "output_plugin_libraries = 'mppdb_decoding, pgoutput, test_decoding, wal2json'"
	if strings.Contains(string(have), line) {
		return nil
	}
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("\n" + line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || !g.running() {
		return err
	}
	pgctl, err := findBinary("pg_ctl")
	if err != nil {
		return err
	}
	cmd, err := g.as.command(ctx, pgctl, "-D", g.data(), "reload")
	if err != nil {
		return err
	}
	return run(cmd)
}
