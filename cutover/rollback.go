package cutover

import (
	"context"
	"fmt"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/installer"
)

// Rollback puts the legacy system back: fence the new side, wait until the CDC has
// applied everything it accepted, verify, start legacy, route to it, smoke test. It
// starts from the world as it is: when legacy is already live it does nothing, and an
// abort undoes only what this run (or the run it resumed) changed.
func Rollback(ctx context.Context, opts Options) (Report, error) {
	rep, err := execute(ctx, opts, rollbackBook(opts))
	if err == nil && rep.Verdict == "ok" {
		fmt.Fprintf(opts.Out, "rollback complete: RTO %.1fs (drain to route), RPO %s\n", rep.RTOSeconds, rep.RPO)
	}
	return rep, err
}

// rollbackBook is the rollback's runbook.
func rollbackBook(opts Options) runbook {
	budget := opts.Site.CDC.Budget.D()
	if budget <= 0 {
		budget = opts.Profile.Rollback.DrainTimeout.D()
	}
	if budget <= 0 {
		budget = 30 * time.Second
	}
	steps := []step{
		{name: "gates", plan: "legacy database reachable, legacy start command set, CDC slot and checkpoint known", do: rollbackGates},
		{name: "drain", plan: "route the balancer to nothing (503): no new writes reach the new side",
			do:   func(ctx context.Context, o *op) (string, error) { return drain(ctx, o) },
			undo: func(ctx context.Context, o *op) error { return o.sw.Route(ctx, SideNew) }},
		{name: "stop-new", plan: "stop the new payd (SIGTERM: it finishes in-flight payments)", do: stopNew,
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
		{name: "fence-lsn", plan: "read the new side's position after the fence", do: fenceLSN},
		{name: "wait-cdc", plan: fmt.Sprintf("wait (up to %s) until the CDC has applied everything before the fence (cdc run is started if it is not running)", budget),
			do: func(ctx context.Context, o *op) (string, error) { return waitCDC(ctx, o, budget) },
			resumed: func(o *op) {
				if !o.ForceDataLoss {
					o.rpo(0, "every transaction the new side accepted is in the legacy database (established before the interruption)")
				}
			}},
		{name: "verify", plan: windowVerifyPlan(opts.Site), do: verifySides},
		{name: "stop-cdc", plan: "stop cdc run (the legacy side becomes the live one)", do: func(ctx context.Context, o *op) (string, error) { return stopCDC(ctx, o) },
			undo: func(ctx context.Context, o *op) error { _, err := startCDC(ctx, o); return err }},
	}
	if opts.Site.CDC.Forward {
		steps = append(steps, reforwardSteps()...)
	}
	steps = append(steps, []step{
		{name: "start-legacy", plan: "start the legacy application and wait until it is ready", do: startLegacy,
			undo: func(ctx context.Context, o *op) error { return sh(ctx, o.Site.Legacy.Stop) }},
		{name: "route-legacy", plan: "route the balancer to the legacy application",
			do: func(ctx context.Context, o *op) (string, error) { return route(ctx, o, SideLegacy) }},
		{name: "smoke", plan: "a signed debit and credit through the balancer", do: smoke},
	}...)
	return runbook{routeStep: "route-legacy", kind: "rollback", other: "cutover", steps: steps, admit: admitRollback}
}

// reforwardSteps keep the forward direction ready after a rollback: the legacy side
// equals openGauss now (the reverse CDC applied everything before the fence), so
// forward CDC starts from the legacy position of this moment, before the legacy
// application writes again; a later cutover needs no copy.
func reforwardSteps() []step {
	return []step{
		{name: "forward-from-here", plan: "start forward CDC (legacy into openGauss) at the legacy binary-log position of now, before legacy writes again", do: reforward,
			undo: func(ctx context.Context, o *op) error {
				_, err := stopStream(ctx, o, forwardStream(o.Site))
				return err
			}},
		{name: "unfence-legacy", plan: "give the legacy application user its writes back",
			do:   func(ctx context.Context, o *op) (string, error) { return fenceLegacy(ctx, o, false) },
			undo: func(ctx context.Context, o *op) error { _, err := fenceLegacy(ctx, o, true); return err }},
	}
}

func reforward(ctx context.Context, o *op) (string, error) {
	if o.ForceDataLoss {
		return "skipped (--force-data-loss: openGauss may lack what legacy has; set forward CDC up again with xckit cutover prepare)", nil
	}
	src, err := o.db(ctx, o.Site.Legacy.BinlogSource(), "legacy binary log")
	if err != nil {
		return "", err
	}
	gauss, err := o.db(ctx, o.Site.New.AppAdminDB(), "new side admin")
	if err != nil {
		return "", err
	}
	if pid := livePid(ForwardPidFile(o.Site)); pid != 0 {
		return fmt.Sprintf("forward cdc run already running (pid %d)", pid), nil
	}
	res, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: gauss, Slot: o.Site.CDC.ForwardSlot, Tables: o.Site.CDC.Tables})
	if err != nil {
		return "", err
	}
	pos, err := cdc.SourcePosition(ctx, src)
	if err != nil {
		return "", err
	}
	o.changed()
	if err := cdc.NewSink(gauss, o.Site.CDC.ForwardSlot).SetCheckpoint(ctx, pos, 0); err != nil {
		return "", err
	}
	d, err := startStream(ctx, o, forwardStream(o.Site))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("forward stream %s from %s (%s)", res.Slot, cdc.DescribePosition(ctx, src, pos), d), nil
}

func rollbackGates(ctx context.Context, o *op) (string, error) {
	legacy, err := o.db(ctx, o.Site.Legacy.DB, "legacy database")
	if err != nil {
		return "", err
	}
	if o.ForceDataLoss {
		return "legacy reachable; --force-data-loss: the new side is not consulted", nil
	}
	src, err := o.db(ctx, o.Site.New.CDCSource, "new side (CDC source)")
	if err != nil {
		return "", fmt.Errorf("%w (if openGauss is gone, --force-data-loss rolls back and reports the window)", err)
	}
	st, err := cdc.GetStatus(ctx, src, legacy, o.Site.CDC.Slot)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("CDC slot %s applied up to %s, lag %d bytes", st.Slot, st.CaughtUpLSN, st.LagBytes), nil
}

// drain stops traffic at the balancer unless it is drained already.
func drain(ctx context.Context, o *op) (string, error) {
	side, err := o.sw.Current(ctx)
	if err != nil {
		return "", fmt.Errorf("read the route before draining: %w", err)
	}
	if side == SideNone {
		return "the balancer was drained already", nil
	}
	o.changed()
	if err := o.sw.Drain(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("balancer drained (it routed to %s)", side), nil
}

// route sends traffic to a side and records when, for the RTO. It never routes to a
// side that is not live: its application answers (and, for new, its role may write).
func route(ctx context.Context, o *op, to Side) (string, error) {
	w := observe(ctx, o)
	switch {
	case to == SideLegacy && !w.LegacyUp:
		return "", fmt.Errorf("the legacy application does not answer %s: not routing to it", o.Site.Legacy.Ready)
	case to == SideLegacy && w.NewUp && !w.NewFenced:
		return "", fmt.Errorf("the new payd answers and its role can write: not routing to legacy beside it (%s)", w)
	case to == SideNew && (!w.NewUp || w.NewFenced || w.FenceError != ""):
		return "", fmt.Errorf("the new side is not live (%s): not routing to it", w)
	case to == SideNew && w.LegacyUp:
		return "", fmt.Errorf("the legacy application still answers: not routing to new beside it (%s)", w)
	}
	o.changed()
	if err := o.sw.Route(ctx, to); err != nil {
		return "", err
	}
	o.routedAt = time.Now()
	return "balancer routes to " + string(to), nil
}

func stopNew(ctx context.Context, o *op) (string, error) {
	if installer.AppPID(o.Site.New.Prefix) == 0 {
		return "was not running", nil
	}
	o.changed()
	if _, err := installer.StopApp(o.Site.New.Prefix); err != nil {
		return "", err
	}
	return "stopped", nil
}

func fenceLSN(ctx context.Context, o *op) (string, error) {
	if o.ForceDataLoss {
		return "skipped (--force-data-loss)", nil
	}
	src, err := o.db(ctx, o.Site.New.CDCSource, "new side")
	if err != nil {
		return "", err
	}
	lsn, err := cdc.CurrentLSN(ctx, src)
	if err != nil {
		return "", err
	}
	o.fence, o.rep.FenceLSN = lsn.String(), lsn.String()
	return "fence at " + lsn.String(), nil
}

// rpo records the recovery point: n transactions may be missing (-1: unknown).
func (o *op) rpo(n int, why string) {
	o.rep.RPOTransactions = &n
	if n < 0 {
		o.rep.RPO = "unknown: " + why
		return
	}
	o.rep.RPO = fmt.Sprintf("%d: %s", n, why)
}

func waitCDC(ctx context.Context, o *op, budget time.Duration) (string, error) {
	legacy, err := o.db(ctx, o.Site.Legacy.DB, "legacy database")
	if err != nil {
		return "", err
	}
	if o.ForceDataLoss {
		cp, _, err := cdc.NewSink(legacy, o.Site.CDC.Slot).Checkpoint(ctx)
		if err != nil {
			return "", err
		}
		o.rpo(-1, fmt.Sprintf("transactions the new side committed after %s (applied at %s) may be lost", max(cp.SeenLSN, cp.LSN), cp.AppliedAt.Format(time.RFC3339)))
		return "skipped (--force-data-loss): " + o.rep.RPO, nil
	}
	if o.fence == "" { // resumed after fence-lsn: the fence holds, so now is as good
		if _, err := fenceLSN(ctx, o); err != nil {
			return "", err
		}
	}
	lsn, err := cdc.ParseLSN(o.fence)
	if err != nil {
		return "", fmt.Errorf("fence position: %w", err)
	}
	note := ""
	if livePid(cdcPid(o)) == 0 {
		// Nothing else will carry the last changes over: start the CDC (it resumes from
		// its checkpoint in the legacy database; nothing is applied twice).
		d, err := startCDC(ctx, o)
		if err != nil {
			return "", fmt.Errorf("cdc run was not running and could not be started: %w", err)
		}
		note = "; cdc run was not running: started it (" + d + ")"
	}
	if err := cdc.WaitApplied(ctx, legacy, o.Site.CDC.Slot, lsn, budget); err != nil {
		return "", err
	}
	o.rpo(0, "every transaction the new side accepted is in the legacy database")
	return "applied everything before " + o.fence + note, nil
}

func verifySides(ctx context.Context, o *op) (string, error) {
	if o.ForceDataLoss {
		return "skipped (--force-data-loss)", nil
	}
	src, legacy, err := sides(ctx, o)
	if err != nil {
		return "", err
	}
	vopts := cdc.VerifyOptions{Source: src, Target: legacy, Tables: o.Site.CDC.Tables, Parallel: 2}
	what := "every row"
	if since := o.Site.CDC.VerifySince.D(); since > 0 {
		vopts.Since, what = time.Now().Add(-since), "rows changed in the last "+since.String()
	}
	rep, counts, err := withCounts(ctx, vopts, func() (cdc.VerifyReport, error) {
		rep, err := cdc.Verify(ctx, vopts)
		if err == nil && !rep.Equal() {
			err = fmt.Errorf("the sides differ: %+v", rep.Tables)
		}
		return rep, err
	})
	if err != nil {
		return "", err
	}
	return verifyDetail(what, rep, counts), nil
}

func startLegacy(ctx context.Context, o *op) (string, error) {
	if answers(ctx, o.Site.Legacy.Ready) {
		return "was up already", nil
	}
	o.changed()
	if err := sh(ctx, o.Site.Legacy.Start); err != nil {
		return "", err
	}
	return "ready", waitReady(ctx, o.Site.Legacy.Ready, o.Site.Legacy.Wait.D())
}
