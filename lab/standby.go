package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
)

// standby is a streaming standby of the lab's gauss: a PostgreSQL physical replica
// (pg_basebackup -R, a physical slot of its own on the primary) behind a front of its
// own, so that a cluster DSN names both nodes and a test can promote it (a real
// failover). Node n's front listens on gauss port + 2n, its PostgreSQL on the port
// above; its socket and data live in <lab>/gauss-standby<n>.
type standby struct {
	g *gauss
	n int
}

func (sb *standby) name() string         { return fmt.Sprintf("gauss-standby%d", sb.n) }
func (sb *standby) dir() string          { return filepath.Join(sb.g.s.Dir, sb.name()) }
func (sb *standby) data() string         { return filepath.Join(sb.dir(), "data") }
func (sb *standby) frontPort() int       { return sb.g.s.GaussPort + 2*sb.n }
func (sb *standby) pgPort() int          { return sb.frontPort() + 1 }
func (sb *standby) pid() int             { return readPID(filepath.Join(sb.data(), "postmaster.pid")) }
func (sb *standby) running() bool        { return alive(sb.pid(), "postgres") }
func (sb *standby) logFile() string      { return filepath.Join(sb.dir(), "postgres.log") }
func (sb *standby) frontPIDFile() string { return filepath.Join(sb.dir(), "front.pid") }
func (sb *standby) frontPID() int        { return readPID(sb.frontPIDFile()) }
func (sb *standby) slot() string         { return fmt.Sprintf("xckit_lab_standby%d", sb.n) }
func (sb *standby) socket() string {
	return filepath.Join(sb.dir(), fmt.Sprintf(".s.PGSQL.%d", sb.pgPort()))
}

func (sb *standby) up(ctx context.Context) error {
	if !sb.g.running() && !sb.promotedOnce() {
		return fmt.Errorf("the primary (gauss) is not running: a standby is made from it and follows it")
	}
	if err := os.MkdirAll(sb.dir(), 0o700); err != nil {
		return err
	}
	if as := sb.g.as; as.name != "" {
		if err := os.Chown(sb.dir(), as.uid, as.gid); err != nil {
			return fmt.Errorf("give %s to %s: %w", sb.dir(), as.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(sb.data(), "PG_VERSION")); err != nil {
		if err := sb.basebackup(ctx); err != nil {
			return err
		}
	}
	if !sb.running() {
		pgctl, err := findBinary("pg_ctl")
		if err != nil {
			return err
		}
		cmd, err := sb.g.as.command(ctx, pgctl, "-D", sb.data(), "-l", sb.logFile(), "-w", "-t", "60", "start")
		if err != nil {
			return err
		}
		if err := run(cmd); err != nil {
			return fmt.Errorf("start the standby's PostgreSQL (log: %s): %w", sb.logFile(), err)
		}
	}
	return sb.startFront(ctx)
}

// promotedOnce: the standby was promoted (it has left recovery): it runs on its own.
func (sb *standby) promotedOnce() bool {
	_, err := os.Stat(filepath.Join(sb.data(), "standby.signal"))
	_, data := os.Stat(filepath.Join(sb.data(), "PG_VERSION"))
	return data == nil && errors.Is(err, os.ErrNotExist)
}

// basebackup copies the running primary and configures the copy to follow it.
func (sb *standby) basebackup(ctx context.Context) error {
	bb, err := findBinary("pg_basebackup")
	if err != nil {
		return err
	}
	os.RemoveAll(sb.data())
	sb.g.log.Info("lab: pg_basebackup", "standby", sb.name(), "dir", sb.data())
	cmd, err := sb.g.as.command(ctx, bb, "-D", sb.data(), "-h", sb.g.dir, "-p", fmt.Sprint(sb.g.s.GaussPort+1),
		"-U", sb.g.s.GaussInitialUser, "-X", "stream", "-R", "-C", "-S", sb.slot(), "--checkpoint=fast")
	if err != nil {
		return err
	}
	if err := run(cmd); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		// A slot left by an earlier, interrupted copy: drop it and copy again once.
		if db, derr := dbx.Open(ctx, sb.g.socketDSN("postgres"), dbx.Options{MaxOpenConns: 1}); derr == nil {
			db.ExecContext(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", sb.slot())
			db.Close()
		}
		os.RemoveAll(sb.data())
		cmd, _ = sb.g.as.command(ctx, bb, cmd.Args[1:]...)
		if err := run(cmd); err != nil {
			return fmt.Errorf("pg_basebackup of the primary: %w", err)
		}
	}
	// Its own port and socket; the rest of postgresql.conf is the primary's.
	conf := fmt.Sprintf("\n# --- xckit lab: streaming standby %d ---\nport = %d\nunix_socket_directories = '%s'\nhot_standby = on\n", sb.n, sb.pgPort(), sb.dir())
	f, err := os.OpenFile(filepath.Join(sb.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (sb *standby) startFront(ctx context.Context) error {
	if frontAlive(sb.frontPID()) {
		return nil
	}
	return startFrontProcess(ctx, frontSpec{bin: sb.g.bin, labDir: sb.g.s.Dir, node: sb.n, port: sb.frontPort(),
		log: filepath.Join(sb.dir(), "front.log"), pidFile: sb.frontPIDFile()})
}

func (sb *standby) down(ctx context.Context) error {
	ferr := proc.Stop(ctx, sb.frontPID(), proc.StopOptions{Is: frontProcess, Grace: 10 * time.Second, Kill: true})
	if errors.Is(ferr, proc.ErrForced) {
		ferr = nil
	}
	if err := stopPID(sb.pid(), "postgres", syscall.SIGINT, 30*time.Second); err != nil {
		return err
	}
	return ferr
}

func (sb *standby) status(ctx context.Context) Part {
	p := Part{Name: sb.name(), Role: "streaming standby of gauss (PostgreSQL physical replication)", PID: sb.pid(), Port: sb.frontPort()}
	p.Running = sb.running() && frontAlive(sb.frontPID())
	if !p.Running {
		p.PID, p.Detail = 0, "not running"
		return p
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	env := sb.g.s.env()
	d, _ := dbx.ParseDSN(env.GaussAdminDSN)
	db, err := dbx.OpenDSN(cctx, d.Node(dbx.Endpoint{Host: "127.0.0.1", Port: sb.frontPort()}), dbx.Options{ConnectTimeout: 3 * time.Second, AppName: "xckit-lab"})
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	defer db.Close()
	rec, err := db.InRecovery(cctx)
	switch {
	case err != nil:
		p.Detail = err.Error()
		return p
	case rec:
		got, _ := db.Received(cctx)
		p.Detail = fmt.Sprintf("standby, received WAL up to %s, front pid %d", got, sb.frontPID())
	default:
		p.Detail = fmt.Sprintf("promoted: a primary of its own, front pid %d", sb.frontPID())
	}
	p.Healthy = true
	return p
}

// Promote makes standby n the primary (pg_ctl promote, waiting until it accepts
// writes): with the old primary stopped, a failover.
func Promote(ctx context.Context, o Options, n int) error {
	o = o.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return err
	}
	if !ok || n < 1 || n > s.GaussStandbys {
		return fmt.Errorf("no gauss standby %d in the lab in %s", n, o.Dir)
	}
	g, err := newGauss(s, o)
	if err != nil {
		return err
	}
	sb := &standby{g: g, n: n}
	pgctl, err := findBinary("pg_ctl")
	if err != nil {
		return err
	}
	cmd, err := g.as.command(ctx, pgctl, "-D", sb.data(), "-w", "-t", "60", "promote")
	if err != nil {
		return err
	}
	if err := run(cmd); err != nil {
		return fmt.Errorf("promote %s (log: %s): %w", sb.name(), sb.logFile(), err)
	}
	return nil
}

// frontSpec is one front process: the lab it serves and the node it stands before.
type frontSpec struct {
	bin, labDir  string
	node, port   int
	log, pidFile string
}

// startFrontProcess starts `xckit lab gauss-front` for one node and waits until it
// listens.
func startFrontProcess(ctx context.Context, f frontSpec) error {
	bin, err := frontBinary(f.bin)
	if err != nil {
		return err
	}
	if !portFree(f.port) {
		return fmt.Errorf("port %d is taken by another program: stop it or create the lab with --gauss-port", f.port)
	}
	logf, err := os.OpenFile(f.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	args := []string{"lab", "gauss-front", "--dir", f.labDir}
	if f.node > 0 {
		args = append(args, "--node", fmt.Sprint(f.node))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("start the gauss front (%s): %w", bin, err)
	}
	if err := proc.WritePIDFile(f.pidFile, cmd.Process.Pid); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	return waitFor(ctx, "gauss front", 15*time.Second, func() error {
		select {
		case <-exited:
			return errGaveUp{fmt.Errorf("the gauss front exited: %s", tailFile(f.log, 600))}
		default:
		}
		if portFree(f.port) {
			return fmt.Errorf("port %d not open yet", f.port)
		}
		return nil
	})
}
