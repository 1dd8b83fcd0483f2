package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// legacy is the legacy database: a MariaDB instance with its own datadir, binlog in
// ROW format and utf8mb4 by default.
type legacy struct {
	s   State
	log *slog.Logger
	dir string
}

func newLegacy(s State, log *slog.Logger) *legacy {
	return &legacy{s: s, log: log, dir: filepath.Join(s.Dir, "legacy")}
}

func (l *legacy) name() string    { return "legacy" }
func (l *legacy) cnf() string     { return filepath.Join(l.dir, "my.cnf") }
func (l *legacy) data() string    { return filepath.Join(l.dir, "data") }
func (l *legacy) sock() string    { return filepath.Join(l.dir, "mariadb.sock") }
func (l *legacy) pidFile() string { return filepath.Join(l.dir, "mariadb.pid") }
func (l *legacy) pid() int        { return readPID(l.pidFile()) }
func (l *legacy) running() bool   { return alive(l.pid(), "mariadbd") || alive(l.pid(), "mysqld") }
func (l *legacy) logFile() string { return filepath.Join(l.dir, "error.log") }

func (l *legacy) writeConfig() error {
	cnf := fmt.Sprintf(`# xckit lab: the legacy database
[mariadbd]
datadir = %s
port = %d
bind-address = 127.0.0.1
socket = %s
pid-file = %s
log-error = %s
log-bin = binlog
binlog-format = ROW
server-id = 1
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
skip-name-resolve
innodb_buffer_pool_size = 256M
innodb_flush_log_at_trx_commit = 1
sync_binlog = 1
max_connections = 500
`, l.data(), l.s.LegacyPort, l.sock(), l.pidFile(), l.logFile())
	return writeFileAtomic(l.cnf(), []byte(cnf), 0o644)
}

func (l *legacy) up(ctx context.Context) error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	if err := l.writeConfig(); err != nil {
		return err
	}
	asRoot := os.Geteuid() == 0
	if _, err := os.Stat(filepath.Join(l.data(), "mysql")); err != nil {
		inst, err := findBinary("mariadb-install-db")
		if err != nil {
			return err
		}
		args := []string{"--defaults-file=" + l.cnf(), "--auth-root-authentication-method=normal", "--skip-test-db"}
		if asRoot {
			args = append(args, "--user=root")
		}
		l.log.Info("lab: mariadb-install-db", "dir", l.data())
		if err := run(exec.CommandContext(ctx, inst, args...)); err != nil {
			return err
		}
	}
	if !l.running() {
		if !portFree(l.s.LegacyPort) {
			return fmt.Errorf("port %d is taken by another program: stop it or create the lab with --legacy-port", l.s.LegacyPort)
		}
		bin, err := findBinary("mariadbd")
		if err != nil {
			return err
		}
		args := []string{"--defaults-file=" + l.cnf()}
		if asRoot {
			args = append(args, "--user=root") // MariaDB refuses root without it
		}
		out, err := os.OpenFile(filepath.Join(l.dir, "mariadbd.out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, args...) // not tied to ctx: the server outlives this command
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			out.Close()
			return fmt.Errorf("start mariadbd: %w", err)
		}
		out.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }() // reap it if it stops while this process still runs
		if err := waitFor(ctx, "legacy", 60*time.Second, func() error {
			select {
			case <-exited:
				return errGaveUp{fmt.Errorf("mariadbd exited: %s (log %s)", tailFile(l.logFile(), 600), l.logFile())}
			default:
			}
			if !l.running() {
				return fmt.Errorf("no pid file yet")
			}
			_, err := os.Stat(l.sock())
			return err
		}); err != nil {
			return err
		}
	}
	return l.bootstrap(ctx)
}

// bootstrap creates the admin and application users and the database. The first time
// root has no password and is reached over the socket; afterwards the admin user is.
func (l *legacy) bootstrap(ctx context.Context) error {
	env := l.s.env()
	db, err := dbx.Open(ctx, fmt.Sprintf("mysql://root@localhost/?socket=%s", l.sock()), dbx.Options{})
	if err != nil {
		db, err = dbx.Open(ctx, env.LegacyAdminDSN, dbx.Options{})
		if err != nil {
			return fmt.Errorf("reach the legacy database as root or %s: %w", l.s.LegacyAdminUser, err)
		}
	}
	defer db.Close()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	stmts := []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", l.s.Database),
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		stmts = append(stmts,
			fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY %s", l.s.LegacyAdminUser, host, lit(l.s.LegacyAdminPass)),
			fmt.Sprintf("ALTER USER '%s'@'%s' IDENTIFIED BY %s", l.s.LegacyAdminUser, host, lit(l.s.LegacyAdminPass)),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s' WITH GRANT OPTION", l.s.LegacyAdminUser, host),
			fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY %s", l.s.AppUser, host, lit(l.s.LegacyAppPass)),
			fmt.Sprintf("ALTER USER '%s'@'%s' IDENTIFIED BY %s", l.s.AppUser, host, lit(l.s.LegacyAppPass)),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%s'", l.s.Database, l.s.AppUser, host),
		)
	}
	// Close root's passwordless door last: from now on the admin user is the way in.
	stmts = append(stmts, fmt.Sprintf("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", lit(l.s.LegacyAdminPass)), "FLUSH PRIVILEGES")
	// One session, kept out of the binary log: the statements carry the passwords in
	// plain text, and the binlog is what a replica (or the forward CDC) reads.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("legacy bootstrap: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return fmt.Errorf("legacy bootstrap: keep the user statements out of the binlog: %w", err)
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			msg := strings.NewReplacer(l.s.LegacyAdminPass, "xxxxx", l.s.LegacyAppPass, "xxxxx").Replace(err.Error())
			return fmt.Errorf("legacy bootstrap: %s", msg)
		}
	}
	return nil
}

func (l *legacy) down(ctx context.Context) error {
	pid := l.pid()
	comm := "mariadbd"
	if alive(pid, "mysqld") {
		comm = "mysqld"
	}
	return stopPID(pid, comm, syscall.SIGTERM, 60*time.Second)
}

func (l *legacy) status(ctx context.Context) Part {
	p := Part{Name: "legacy", Role: "legacy database (MariaDB)", PID: l.pid(), Port: l.s.LegacyPort}
	p.Running = l.running()
	if !p.Running {
		p.PID, p.Detail = 0, "not running"
		return p
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := dbx.Open(cctx, l.s.env().LegacyDSN, dbx.Options{ConnectTimeout: 3 * time.Second})
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	defer db.Close()
	var format string
	if err := db.QueryRowContext(cctx, "SELECT @@binlog_format").Scan(&format); err != nil {
		p.Detail = err.Error()
		return p
	}
	p.Healthy, p.Detail = true, db.Dialect.Name()+", binlog "+format
	return p
}
