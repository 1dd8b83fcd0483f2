package cutover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/report"
)

// fence makes the platform's role read-only (on) or lifts that (off), on openGauss and
// PostgreSQL alike. It reads the role first: a fence already in place is not set again
// (its sessions are still ended: a run killed between the two left them), and a role
// that is not fenced is not touched.
func fence(ctx context.Context, o *op, on bool) (string, error) {
	app, err := dbx.ParseDSN(o.Site.New.DB)
	if err != nil {
		return "", err
	}
	admin, err := o.db(ctx, o.Site.New.AdminDB, "new side admin")
	if err != nil {
		return "", err
	}
	was, err := fencedRole(ctx, admin, app.User)
	if err != nil {
		return "", err
	}
	role := admin.Dialect.QuoteIdent(app.User)
	if !on {
		if !was {
			return "role " + app.User + " may write (it was not fenced)", nil
		}
		o.changed()
		if _, err := admin.ExecContext(ctx, "ALTER ROLE "+role+" RESET default_transaction_read_only"); err != nil {
			return "", err
		}
		// Sessions opened under the fence keep read-only: end them too (they may
		// reconnect at once: nothing to prove here).
		n, err := endSessions(ctx, admin, app.User, time.Time{})
		return fmt.Sprintf("role %s may write again, %d read-only sessions ended", app.User, n), err
	}
	// The database's own clock: the sessions that may keep the old setting began before.
	var fencedAt time.Time
	if err := admin.QueryRowContext(ctx, "SELECT now()").Scan(&fencedAt); err != nil {
		return "", err
	}
	note := "read-only"
	if was {
		note = "was read-only already"
	} else {
		o.changed()
		if _, err := admin.ExecContext(ctx, "ALTER ROLE "+role+" SET default_transaction_read_only = on"); err != nil {
			return "", err
		}
	}
	// Sessions opened before the fence keep their setting: end them, and prove it.
	n, err := endSessions(ctx, admin, app.User, fencedAt)
	if err != nil {
		return "", err
	}
	nodes, err := proveFenceOnNodes(ctx, o)
	o.rep.Nodes = nodes
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("role %s %s, %d sessions ended; %s", app.User, note, n, nodesText(nodes)), nil
}

// endSessions ends every session of a role (they reconnect with the role's settings)
// and proves it: it counts the role's sessions again until none is left, and fails
// loudly when some survive (a session that kept its pre-fence setting could write).
// With a zero fencedAt nothing is proved (unfencing: the sessions may reconnect).
func endSessions(ctx context.Context, admin *dbx.DB, user string, fencedAt time.Time) (int, error) {
	var n int
	if err := admin.QueryRowContext(ctx, admin.Dialect.EndSessionsSQL(), user).Scan(&n); err != nil {
		return 0, fmt.Errorf("end the sessions of role %s: %w", user, err)
	}
	if fencedAt.IsZero() {
		return n, nil
	}
	left := 0
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := admin.QueryRowContext(ctx, admin.Dialect.RoleSessionsSQL(), user, fencedAt).Scan(&left); err != nil {
			return n, fmt.Errorf("count the sessions of role %s: %w", user, err)
		}
		if left == 0 {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("%d sessions of role %s opened before the fence survive being ended (with openGauss's thread pool a session outlives its worker): "+
				"end them by hand (pg_terminate_session(pid, sessionid) from pg_stat_activity) and run the command again", left, user)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// acceptanceGate checks the acceptance evidence the cutover stands on.
func acceptanceGate(o *op) (string, error) {
	if o.SkipAcceptance {
		return "acceptance gate waived (--skip-acceptance)", nil
	}
	if o.Acceptance == "" {
		return "", fmt.Errorf("no acceptance report: run xckit bench acceptance against the new system and pass --acceptance DIR (or waive the gate with --skip-acceptance)")
	}
	r, _, err := report.Load(o.Acceptance)
	if err != nil {
		return "", fmt.Errorf("acceptance report: %w", err)
	}
	maxAge := o.AcceptanceMaxAge
	if maxAge <= 0 {
		maxAge = 7 * 24 * time.Hour
	}
	switch {
	case !r.Pass:
		return "", fmt.Errorf("the acceptance report in %s failed: the new system has not met the profile", o.Acceptance)
	case time.Since(r.Finished) > maxAge:
		return "", fmt.Errorf("the acceptance report in %s is from %s, older than %s: run it again", o.Acceptance, r.Finished.Format(time.RFC3339), maxAge)
	}
	return fmt.Sprintf("acceptance passed %s ago (profile %s)", time.Since(r.Finished).Round(time.Minute), r.Profile), nil
}

// sides opens the CDC's source (the new side) and the legacy database.
func sides(ctx context.Context, o *op) (*dbx.DB, *dbx.DB, error) {
	src, err := o.db(ctx, o.Site.New.CDCSource, "new side (CDC source)")
	if err != nil {
		return nil, nil, err
	}
	legacy, err := o.db(ctx, o.Site.Legacy.ReverseTarget(), "legacy database (CDC target)")
	if err != nil {
		return nil, nil, err
	}
	return src, legacy, nil
}

func cdcPid(o *op) string { return CDCPidFile(o.Site) }

// CDCPidFile is where the cdc run that the runbooks start for a site keeps its pid
// (xckit cdc stop --site finds it there).
func CDCPidFile(s *Site) string { return filepath.Join(s.New.Prefix, "run", "cdc.pid") }

// ForwardPidFile is the forward CDC's (the legacy binary log into openGauss).
func ForwardPidFile(s *Site) string { return filepath.Join(s.New.Prefix, "run", "cdc-forward.pid") }

// stream is one background cdc run of a site.
type stream struct {
	name           string // "cdc run" or "forward cdc run", for messages
	slot, pid, log string
	source, target string // DSNs
}

func reverseStream(s *Site) stream {
	return stream{name: "cdc run", slot: s.CDC.Slot, pid: CDCPidFile(s), log: filepath.Join(s.New.Prefix, "log", "cdc.log"),
		source: s.New.CDCSource, target: s.Legacy.ReverseTarget()}
}

func forwardStream(s *Site) stream {
	return stream{name: "forward cdc run", slot: s.CDC.ForwardSlot, pid: ForwardPidFile(s), log: filepath.Join(s.New.Prefix, "log", "cdc-forward.log"),
		source: s.Legacy.BinlogSource(), target: s.New.AppAdminDB()}
}

// startCDC runs the reverse `xckit cdc run` in the background.
func startCDC(ctx context.Context, o *op) (string, error) {
	return startStream(ctx, o, reverseStream(o.Site))
}

// startStream runs `xckit cdc run` in the background, detached, with a pid file.
func startStream(ctx context.Context, o *op, st stream) (string, error) {
	if pid := livePid(st.pid); pid != 0 {
		return fmt.Sprintf("already running (pid %d)", pid), nil
	}
	for _, d := range []string{"log", "run"} {
		if err := os.MkdirAll(filepath.Join(o.Site.New.Prefix, d), 0o755); err != nil {
			return "", err
		}
	}
	logf, err := os.OpenFile(st.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	// The DSNs travel in the environment: a command line is visible to every user (ps).
	args := []string{"cdc", "run", "--slot", st.slot, "--pid-file", st.pid, "--log-level", "warn"}
	if len(o.Site.CDC.Tables) > 0 {
		args = append(args, "--tables", strings.Join(o.Site.CDC.Tables, ","))
	}
	cmd := exec.Command(o.XckitBin, args...)
	cmd.Env = append(os.Environ(), "XCKIT_CDC_SOURCE="+st.source, "XCKIT_CDC_TARGET="+st.target)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", st.name, err)
	}
	o.changed()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			b, _ := os.ReadFile(st.log)
			return "", fmt.Errorf("%s exited at once: %s", st.name, lastLine(string(b)))
		default:
		}
		if livePid(st.pid) != 0 {
			return fmt.Sprintf("%s pid %d", st.name, cmd.Process.Pid), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s to start: %w", st.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not start within 15 s", st.name)
}

// CDCRun recognises a `xckit cdc run` process (whatever the binary is called).
var CDCRun = proc.Is{Args: []string{"cdc", "run"}}

// stopCDC ends the reverse cdc run.
func stopCDC(ctx context.Context, o *op) (string, error) {
	return stopStream(ctx, o, reverseStream(o.Site))
}

// stopStream ends a cdc run: it finishes its batch on SIGTERM; one stuck past 30 s is
// killed (its checkpoint is committed with the data, so nothing is lost or doubled).
func stopStream(ctx context.Context, o *op, st stream) (string, error) {
	pid := livePid(st.pid)
	if pid == 0 {
		return "not running", nil
	}
	o.changed()
	err := proc.Stop(ctx, pid, proc.StopOptions{Is: CDCRun, Grace: 30 * time.Second, Kill: true})
	switch {
	case errors.Is(err, proc.ErrForced):
		return fmt.Sprintf("%s pid %d stopped (killed after 30 s: its checkpoint is committed with the data)", st.name, pid), nil
	case err != nil:
		return "", fmt.Errorf("stop %s: %w", st.name, err)
	}
	return fmt.Sprintf("%s pid %d stopped", st.name, pid), nil
}

func livePid(file string) int { return proc.Running(file, CDCRun) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
