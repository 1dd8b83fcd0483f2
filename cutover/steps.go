package cutover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/report"
)

// fenceSQL makes the platform's role read-only (and undoes it), on openGauss and
// PostgreSQL alike.
func fence(ctx context.Context, o *op, on bool) (string, error) {
	app, err := dbx.ParseDSN(o.Site.New.DB)
	if err != nil {
		return "", err
	}
	admin, err := openDB(ctx, o.Site.New.AdminDB, "new side admin")
	if err != nil {
		return "", err
	}
	defer admin.Close()
	role := admin.Dialect.QuoteIdent(app.User)
	if !on {
		_, err := admin.ExecContext(ctx, "ALTER ROLE "+role+" RESET default_transaction_read_only")
		return "role " + app.User + " may write again", err
	}
	if _, err := admin.ExecContext(ctx, "ALTER ROLE "+role+" SET default_transaction_read_only = on"); err != nil {
		return "", err
	}
	// Sessions opened before the fence keep their setting: end them.
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1", app.User).Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf("role %s read-only, %d sessions ended", app.User, n), nil
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
	src, err := openDB(ctx, o.Site.New.CDCSource, "new side (CDC source)")
	if err != nil {
		return nil, nil, err
	}
	legacy, err := openDB(ctx, o.Site.Legacy.DB, "legacy database")
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return src, legacy, nil
}

func cdcPid(o *op) string { return filepath.Join(o.Site.New.Prefix, "run", "cdc.pid") }

// startCDC runs `xckit cdc run` in the background, detached, with a pid file.
func startCDC(ctx context.Context, o *op) (string, error) {
	if pid := livePid(cdcPid(o)); pid != 0 {
		return fmt.Sprintf("already running (pid %d)", pid), nil
	}
	for _, d := range []string{"log", "run"} {
		if err := os.MkdirAll(filepath.Join(o.Site.New.Prefix, d), 0o755); err != nil {
			return "", err
		}
	}
	logf, err := os.OpenFile(filepath.Join(o.Site.New.Prefix, "log", "cdc.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	// The DSNs travel in the environment: a command line is visible to every user (ps).
	args := []string{"cdc", "run", "--slot", o.Site.CDC.Slot, "--pid-file", cdcPid(o), "--log-level", "warn"}
	if len(o.Site.CDC.Tables) > 0 {
		args = append(args, "--tables", strings.Join(o.Site.CDC.Tables, ","))
	}
	cmd := exec.Command(o.XckitBin, args...)
	cmd.Env = append(os.Environ(), "XCKIT_CDC_SOURCE="+o.Site.New.CDCSource, "XCKIT_CDC_TARGET="+o.Site.Legacy.DB)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start cdc run: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(o.Site.New.Prefix, "log", "cdc.log"))
			return "", fmt.Errorf("cdc run exited at once: %s", lastLine(string(b)))
		default:
		}
		if livePid(cdcPid(o)) != 0 {
			return fmt.Sprintf("cdc run pid %d", cmd.Process.Pid), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("cdc run did not start within 15 s")
}

func stopCDC(ctx context.Context, o *op) (string, error) {
	pid := livePid(cdcPid(o))
	if pid == 0 {
		return "not running", nil
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if livePid(cdcPid(o)) == 0 || syscall.Kill(pid, 0) != nil {
			return fmt.Sprintf("cdc run pid %d stopped", pid), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("cdc run pid %d did not stop within 30 s", pid)
}

func livePid(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(st), ") Z ") {
		return 0
	}
	return pid
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Rollback puts the legacy system back: fence the new side, wait until the CDC has
// applied everything it accepted, verify, start legacy, route to it, smoke test.
func Rollback(ctx context.Context, opts Options) (Report, error) {
	budget := opts.Site.CDC.Budget
	if budget <= 0 {
		budget = opts.Profile.Rollback.DrainTimeout.D()
	}
	if budget <= 0 {
		budget = 30 * time.Second
	}
	steps := []step{
		{name: "gates", plan: "legacy database reachable, legacy start command set, CDC slot and checkpoint known", do: func(ctx context.Context, o *op) (string, error) {
			legacy, err := openDB(ctx, o.Site.Legacy.DB, "legacy database")
			if err != nil {
				return "", err
			}
			defer legacy.Close()
			if o.ForceDataLoss {
				return "legacy reachable; --force-data-loss: the new side is not consulted", nil
			}
			src, err := openDB(ctx, o.Site.New.CDCSource, "new side (CDC source)")
			if err != nil {
				return "", fmt.Errorf("%w (if openGauss is gone, --force-data-loss rolls back and reports the window)", err)
			}
			defer src.Close()
			st, err := cdc.GetStatus(ctx, src, legacy, o.Site.CDC.Slot)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("CDC slot %s applied up to %s, lag %d bytes", st.Slot, st.CaughtUpLSN, st.LagBytes), nil
		}},
		{name: "drain", plan: "route the balancer to nothing (503): no new writes reach the new side",
			do:   func(ctx context.Context, o *op) (string, error) { return "balancer drained", o.sw.Drain(ctx) },
			undo: func(ctx context.Context, o *op) error { return o.sw.Route(ctx, SideNew) }},
		{name: "stop-new", plan: "stop the new payd (SIGTERM: it finishes in-flight payments)",
			do: func(ctx context.Context, o *op) (string, error) {
				stopped, err := installer.StopApp(o.Site.New.Prefix)
				if !stopped {
					return "was not running", err
				}
				return "stopped", err
			},
			undo: func(ctx context.Context, o *op) error {
				return installer.StartApp(ctx, o.Site.New.Prefix, o.Site.New.Listen, 30*time.Second)
			}},
		{name: "fence-db", plan: "make the platform's openGauss role read-only and end its sessions",
			do: func(ctx context.Context, o *op) (string, error) {
				if o.ForceDataLoss {
					return "skipped (--force-data-loss)", nil
				}
				return fence(ctx, o, true)
			},
			undo: func(ctx context.Context, o *op) error { _, err := fence(ctx, o, false); return err }},
		{name: "fence-lsn", plan: "read the new side's position after the fence", do: func(ctx context.Context, o *op) (string, error) {
			if o.ForceDataLoss {
				return "skipped (--force-data-loss)", nil
			}
			src, err := openDB(ctx, o.Site.New.CDCSource, "new side")
			if err != nil {
				return "", err
			}
			defer src.Close()
			lsn, err := cdc.CurrentLSN(ctx, src)
			o.fence, o.rep.FenceLSN = lsn.String(), lsn.String()
			return "fence at " + lsn.String(), err
		}},
		{name: "wait-cdc", plan: fmt.Sprintf("wait (up to %s) until the CDC has applied everything before the fence", budget), do: func(ctx context.Context, o *op) (string, error) {
			legacy, err := openDB(ctx, o.Site.Legacy.DB, "legacy database")
			if err != nil {
				return "", err
			}
			defer legacy.Close()
			if o.ForceDataLoss {
				cp, _, err := cdc.NewSink(legacy, o.Site.CDC.Slot).Checkpoint(ctx)
				if err != nil {
					return "", err
				}
				o.rep.RPO = fmt.Sprintf("unknown: transactions the new side committed after %s (applied at %s) may be lost", max(cp.SeenLSN, cp.LSN), cp.AppliedAt.Format(time.RFC3339))
				return "skipped (--force-data-loss): " + o.rep.RPO, nil
			}
			if o.fence == "" { // resumed after fence-lsn: the fence holds, so now is as good
				src, err := openDB(ctx, o.Site.New.CDCSource, "new side")
				if err != nil {
					return "", err
				}
				l, err := cdc.CurrentLSN(ctx, src)
				src.Close()
				if err != nil {
					return "", err
				}
				o.fence, o.rep.FenceLSN = l.String(), l.String()
			}
			lsn, err := cdc.ParseLSN(o.fence)
			if err != nil {
				return "", fmt.Errorf("fence position: %w", err)
			}
			if err := cdc.WaitApplied(ctx, legacy, o.Site.CDC.Slot, lsn, budget); err != nil {
				return "", err
			}
			o.rep.RPO = "0: every transaction the new side accepted is in the legacy database"
			return "applied everything before " + o.fence, nil
		}, resumed: func(o *op) {
			if !o.ForceDataLoss {
				o.rep.RPO = "0: every transaction the new side accepted is in the legacy database (established before the interruption)"
			}
		}},
		{name: "verify", plan: "compare the platform's tables on both sides", do: func(ctx context.Context, o *op) (string, error) {
			if o.ForceDataLoss {
				return "skipped (--force-data-loss)", nil
			}
			src, legacy, err := sides(ctx, o)
			if err != nil {
				return "", err
			}
			defer src.Close()
			defer legacy.Close()
			rep, err := cdc.Verify(ctx, cdc.VerifyOptions{Source: src, Target: legacy, Tables: o.Site.CDC.Tables, Parallel: 2})
			if err != nil {
				return "", err
			}
			if !rep.Equal() {
				return "", fmt.Errorf("the sides differ: %+v", rep.Tables)
			}
			return fmt.Sprintf("equal: %d rows compared", rep.Rows), nil
		}},
		{name: "stop-cdc", plan: "stop cdc run (the legacy side becomes the live one)", do: func(ctx context.Context, o *op) (string, error) { return stopCDC(ctx, o) },
			undo: func(ctx context.Context, o *op) error { _, err := startCDC(ctx, o); return err }},
		{name: "start-legacy", plan: "start the legacy application and wait until it is ready",
			do: func(ctx context.Context, o *op) (string, error) {
				if err := sh(ctx, o.Site.Legacy.Start); err != nil {
					return "", err
				}
				return "ready", waitReady(ctx, o.Site.Legacy.Ready, o.Site.Legacy.Wait)
			},
			undo: func(ctx context.Context, o *op) error { return sh(ctx, o.Site.Legacy.Stop) }},
		{name: "route-legacy", plan: "route the balancer to the legacy application",
			do: func(ctx context.Context, o *op) (string, error) {
				return "balancer routes to legacy", o.sw.Route(ctx, SideLegacy)
			}},
		{name: "smoke", plan: "a signed debit and credit through the balancer", do: func(ctx context.Context, o *op) (string, error) {
			d, err := smoke(ctx, o)
			o.rep.RTOSeconds = time.Since(o.start).Seconds()
			return d, err
		}},
	}
	rep, err := execute(ctx, "rollback", opts, steps)
	if err == nil && rep.Verdict == "ok" {
		fmt.Fprintf(opts.Out, "rollback complete: RTO %.1fs, RPO %s\n", rep.RTOSeconds, rep.RPO)
	}
	return rep, err
}

// Cutover switches traffic to the new system: stop the legacy app, copy its data into
// openGauss and verify, create the CDC slot before the new side's first write, start
// the new payd and the CDC, route to it, smoke test. After a rollback the same command
// switches forward again, bringing the legacy side's new writes over first.
func Cutover(ctx context.Context, opts Options) (Report, error) {
	steps := []step{
		{name: "gates", plan: "a passed, fresh acceptance report; legacy application ready; new database reachable", do: func(ctx context.Context, o *op) (string, error) {
			acc, err := acceptanceGate(o)
			if err != nil {
				return "", err
			}
			if err := waitReady(ctx, o.Site.Legacy.Ready, 5*time.Second); err != nil {
				return "", fmt.Errorf("legacy application: %w", err)
			}
			db, err := openDB(ctx, o.Site.New.AdminDB, "new side admin")
			if err != nil {
				return "", err
			}
			db.Close()
			return acc + "; legacy ready, new side reachable", nil
		}},
		{name: "drain", plan: "route the balancer to nothing (503)",
			do:   func(ctx context.Context, o *op) (string, error) { return "balancer drained", o.sw.Drain(ctx) },
			undo: func(ctx context.Context, o *op) error { return o.sw.Route(ctx, SideLegacy) }},
		{name: "stop-legacy", plan: "stop the legacy application (its database keeps running)",
			do:   func(ctx context.Context, o *op) (string, error) { return "stopped", sh(ctx, o.Site.Legacy.Stop) },
			undo: func(ctx context.Context, o *op) error { return sh(ctx, o.Site.Legacy.Start) }},
		{name: "unfence-new", plan: "let the platform's openGauss role write (after a rollback it was fenced)",
			do: func(ctx context.Context, o *op) (string, error) { return fence(ctx, o, false) }},
		{name: "copy", plan: "copy the legacy data into openGauss and verify equal", do: func(ctx context.Context, o *op) (string, error) {
			legacy, err := openDB(ctx, o.Site.Legacy.DB, "legacy database")
			if err != nil {
				return "", err
			}
			defer legacy.Close()
			app, err := openDB(ctx, o.Site.New.DB, "new side")
			if err != nil {
				return "", err
			}
			defer app.Close()
			cr, err := cdc.Copy(ctx, cdc.CopyOptions{From: legacy, To: app, Tables: o.Site.CDC.Tables})
			if err != nil {
				return "", err
			}
			// The new side must equal the legacy side before its first write: rows only
			// it has (an install's smoke payments, say) go.
			vopts := cdc.VerifyOptions{Source: legacy, Target: app, Tables: o.Site.CDC.Tables, Parallel: 2, Repair: true}
			vr, err := cdc.Verify(ctx, vopts)
			if err != nil {
				return "", err
			}
			removed := 0
			if !vr.Equal() {
				for _, t := range vr.Tables {
					removed += t.Deletes
				}
				if err := cdc.ApplyRepair(ctx, app, vr); err != nil {
					return "", err
				}
				vopts.Repair = false
				if vr, err = cdc.Verify(ctx, vopts); err != nil {
					return "", err
				}
				if !vr.Equal() {
					return "", fmt.Errorf("after the copy the sides still differ: %+v", vr.Tables)
				}
			}
			return fmt.Sprintf("copied %d rows, removed %d rows only the new side had, verified equal", cr.Rows, removed), nil
		}},
		{name: "cdc-init", plan: "create the CDC slot on openGauss before its first write (a previous slot is replaced)", do: func(ctx context.Context, o *op) (string, error) {
			src, legacy, err := sides(ctx, o)
			if err != nil {
				return "", err
			}
			defer src.Close()
			defer legacy.Close()
			if _, err := stopCDC(ctx, o); err != nil {
				return "", fmt.Errorf("stop the old cdc run before re-creating the slot: %w", err)
			}
			if err := cdc.Drop(ctx, src, legacy, o.Site.CDC.Slot); err != nil {
				return "", err
			}
			res, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: legacy, Slot: o.Site.CDC.Slot, Tables: o.Site.CDC.Tables})
			return "slot at " + res.StartLSN, err
		}},
		{name: "start-cdc", plan: "start xckit cdc run in the background", do: func(ctx context.Context, o *op) (string, error) { return startCDC(ctx, o) },
			undo: func(ctx context.Context, o *op) error { _, err := stopCDC(ctx, o); return err }},
		{name: "start-new", plan: "start the new payd and wait until it is ready",
			do: func(ctx context.Context, o *op) (string, error) {
				return "ready", installer.StartApp(ctx, o.Site.New.Prefix, o.Site.New.Listen, 30*time.Second)
			},
			undo: func(ctx context.Context, o *op) error { _, err := installer.StopApp(o.Site.New.Prefix); return err }},
		{name: "route-new", plan: "route the balancer to the new system",
			do: func(ctx context.Context, o *op) (string, error) {
				return "balancer routes to new", o.sw.Route(ctx, SideNew)
			}},
		{name: "smoke", plan: "a signed debit and credit through the balancer", do: func(ctx context.Context, o *op) (string, error) {
			d, err := smoke(ctx, o)
			o.rep.RTOSeconds = time.Since(o.start).Seconds()
			return d, err
		}},
	}
	rep, err := execute(ctx, "cutover", opts, steps)
	if err == nil && rep.Verdict == "ok" {
		fmt.Fprintf(opts.Out, "cutover complete in %.1fs: the new system takes traffic, CDC keeps legacy in step\n", rep.RTOSeconds)
	}
	return rep, err
}
