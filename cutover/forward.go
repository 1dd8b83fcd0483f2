package cutover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/platform"
)

// Cutover switches traffic to the new system: stop the legacy app, copy its data into
// openGauss and verify, create the CDC slot before the new side's first write, start
// the new payd and the CDC, route to it, smoke test. After a rollback the same command
// switches forward again, bringing the legacy side's new writes over first. It starts
// only from a live legacy side (or resumes one it interrupted), and it never deletes
// from the new side a row that is not the kit's own test traffic.
func Cutover(ctx context.Context, opts Options) (Report, error) {
	steps := []step{
		{name: "gates", plan: "a passed, fresh acceptance report; legacy application ready; new database reachable", do: cutoverGates},
		{name: "drain", plan: "route the balancer to nothing (503)",
			do:   func(ctx context.Context, o *op) (string, error) { return drain(ctx, o) },
			undo: func(ctx context.Context, o *op) error { return o.sw.Route(ctx, SideLegacy) }},
		{name: "stop-legacy", plan: "stop the legacy application (its database keeps running)", do: stopLegacy,
			undo: func(ctx context.Context, o *op) error {
				if err := sh(ctx, o.Site.Legacy.Start); err != nil {
					return err
				}
				return waitReady(ctx, o.Site.Legacy.Ready, o.Site.Legacy.Wait.D())
			}},
		{name: "unfence-new", plan: "let the platform's openGauss role write (after a rollback it was fenced)",
			do:   func(ctx context.Context, o *op) (string, error) { return fence(ctx, o, false) },
			undo: func(ctx context.Context, o *op) error { _, err := fence(ctx, o, true); return err }},
		{name: "copy", plan: "copy the legacy data into openGauss and verify equal (only the kit's test rows may be removed)", do: copyLegacy},
	}
	if opts.Site.CDC.Forward {
		// The data is on openGauss already (online copy, forward CDC): the window
		// fences legacy, drains the forward stream and checks.
		steps = append(steps[:len(steps)-1], forwardSteps(opts)...)
	}
	steps = append(steps, []step{
		{name: "cdc-init", plan: "create the CDC slot on openGauss before its first write (a previous slot is replaced)", do: cdcInit},
		{name: "start-cdc", plan: "start xckit cdc run in the background", do: func(ctx context.Context, o *op) (string, error) { return startCDC(ctx, o) },
			undo: func(ctx context.Context, o *op) error { _, err := stopCDC(ctx, o); return err }},
		{name: "start-new", plan: "start the new payd and wait until it is ready", do: startNew,
			undo: func(ctx context.Context, o *op) error { _, err := installer.StopApp(o.Site.New.Prefix); return err }},
		{name: "route-new", plan: "route the balancer to the new system",
			do: func(ctx context.Context, o *op) (string, error) { return route(ctx, o, SideNew) }},
		{name: "smoke", plan: "a signed debit and credit through the balancer", do: smoke},
	}...)
	rep, err := execute(ctx, opts, runbook{routeStep: "route-new", kind: "cutover", other: "rollback", steps: steps, admit: admitCutover})
	if err == nil && rep.Verdict == "ok" {
		fmt.Fprintf(opts.Out, "cutover complete: clients waited %.1fs (drain to route); the new system takes traffic, CDC keeps legacy in step\n", rep.RTOSeconds)
	}
	return rep, err
}

func cutoverGates(ctx context.Context, o *op) (string, error) {
	acc, err := acceptanceGate(o)
	if err != nil {
		return "", err
	}
	if err := waitReady(ctx, o.Site.Legacy.Ready, 5*time.Second); err != nil {
		return "", fmt.Errorf("legacy application: %w", err)
	}
	if _, err := o.db(ctx, o.Site.New.AdminDB, "new side admin"); err != nil {
		return "", err
	}
	if !o.Site.CDC.Forward {
		return acc + "; legacy ready, new side reachable", nil
	}
	fwd, err := forwardGate(ctx, o)
	if err != nil {
		return "", err
	}
	return acc + "; legacy ready, new side reachable; " + fwd, nil
}

// forwardSteps replace the copy when forward CDC keeps openGauss in step.
func forwardSteps(opts Options) []step {
	budget := opts.Site.CDC.Budget.D()
	if budget <= 0 {
		budget = opts.Profile.Rollback.DrainTimeout.D()
	}
	if budget <= 0 {
		budget = 30 * time.Second
	}
	return []step{
		{name: "fence-legacy", plan: "revoke the legacy application user's writes, end its sessions, prove a write is refused",
			do:   func(ctx context.Context, o *op) (string, error) { return fenceLegacy(ctx, o, true) },
			undo: func(ctx context.Context, o *op) error { _, err := fenceLegacy(ctx, o, false); return err }},
		{name: "fence-binlog", plan: "read the legacy binary-log position after the fence (and the forward lag there)", do: legacyFencePos},
		{name: "wait-forward", plan: fmt.Sprintf("wait (up to %s) until forward CDC has applied everything before the fence", budget),
			do: func(ctx context.Context, o *op) (string, error) { return waitForward(ctx, o, budget) }},
		{name: "verify", plan: windowVerifyPlan(opts.Site), do: windowVerify},
		{name: "stop-forward", plan: "stop forward cdc run (openGauss becomes the live side)",
			do: func(ctx context.Context, o *op) (string, error) { return stopStream(ctx, o, forwardStream(o.Site)) },
			undo: func(ctx context.Context, o *op) error {
				_, err := startStream(ctx, o, forwardStream(o.Site))
				return err
			}},
	}
}

func windowVerifyPlan(s *Site) string {
	if s.CDC.VerifySince <= 0 {
		return "compare every row of the platform's tables on both sides"
	}
	return fmt.Sprintf("compare every table's row count and the rows changed in the last %s on both sides", s.CDC.VerifySince)
}

// windowVerify checks the sides inside the window: every row, or (verify_since) the
// row counts and the rows changed lately, which is what forward CDC has just moved.
// Rows only openGauss has that are the kit's test traffic are removed, as the copy does.
func windowVerify(ctx context.Context, o *op) (string, error) {
	legacy, err := o.db(ctx, o.Site.Legacy.DB, "legacy database")
	if err != nil {
		return "", err
	}
	app, err := o.db(ctx, o.Site.New.AppAdminDB(), "new side admin")
	if err != nil {
		return "", err
	}
	vopts := cdc.VerifyOptions{Source: legacy, Target: app, Tables: o.Site.CDC.Tables, Parallel: 2, Repair: true,
		Disposable: func(_ string, cols, row []string) bool { return platform.IsTestTraffic(cols, row) }}
	what := "every row"
	if since := o.Site.CDC.VerifySince.D(); since > 0 {
		vopts.Since = time.Now().Add(-since)
		what = "rows changed in the last " + since.String()
	}
	vr, counts, err := withCounts(ctx, vopts, func() (cdc.VerifyReport, error) {
		vr, err := cdc.Verify(ctx, vopts)
		if err != nil {
			return vr, err
		}
		if err := protectedRows(vr); err != nil {
			return vr, err
		}
		if !vr.Equal() {
			o.changed()
			if vr, err = cdc.RepairAndVerify(ctx, vopts, vr); err != nil {
				return vr, err
			}
			if !vr.Equal() {
				return vr, fmt.Errorf("after forward CDC the sides differ: %+v", vr.Tables)
			}
		}
		return vr, nil
	})
	if err != nil {
		return "", err
	}
	return verifyDetail(what, vr, counts), nil
}

// verifyDetail is a verify step's detail: what was compared, how long it took, and
// the row counts (when only the recent rows were compared).
func verifyDetail(what string, vr cdc.VerifyReport, counts string) string {
	return fmt.Sprintf("equal: %s (%d rows compared in %.1fs%s)%s", what, vr.Rows, vr.Seconds, slowest(vr), counts)
}

// slowest names the table that took longest and when its first rows came (the
// scans' planning and sorting), which is where a slow window verify spends its time.
func slowest(vr cdc.VerifyReport) string {
	var s cdc.TableReport
	for _, t := range vr.Tables {
		if t.Seconds > s.Seconds {
			s = t
		}
	}
	if s.Table == "" {
		return ""
	}
	return fmt.Sprintf("; slowest %s %.1fs, first row after %.1fs from the source, %.1fs from the target", s.Table, s.Seconds, s.SourceFirst, s.TargetFirst)
}

// stopLegacy always runs legacy.stop (an application up but not ready is still up);
// it counts as a change, to be undone, only when legacy answered.
func stopLegacy(ctx context.Context, o *op) (string, error) {
	was := answers(ctx, o.Site.Legacy.Ready)
	if was {
		o.changed()
	}
	if err := sh(ctx, o.Site.Legacy.Stop); err != nil {
		return "", err
	}
	if !was {
		return "was not answering; legacy.stop run anyway", nil
	}
	return "stopped", nil
}

func startNew(ctx context.Context, o *op) (string, error) {
	if installer.AppPID(o.Site.New.Prefix) != 0 {
		return "was running", installer.StartApp(ctx, o.Site.New.Prefix, o.Site.New.Listen, 30*time.Second)
	}
	o.changed()
	return "ready", installer.StartApp(ctx, o.Site.New.Prefix, o.Site.New.Listen, 30*time.Second)
}

// copyLegacy makes the new side equal the legacy side before its first write. Rows
// only the new side has are deleted only when they are the kit's own test traffic
// (platform.IsTestTraffic: install smoke tests, acceptance runs); any other such row
// is a payment or agreement the new side acknowledged, and stops the cutover.
func copyLegacy(ctx context.Context, o *op) (string, error) {
	legacy, err := o.db(ctx, o.Site.Legacy.DB, "legacy database")
	if err != nil {
		return "", err
	}
	app, err := o.db(ctx, o.Site.New.DB, "new side")
	if err != nil {
		return "", err
	}
	// Compare first, counting only (a first copy onto an empty openGauss differs in
	// every row): a protected row stops the cutover before anything is written.
	vopts := cdc.VerifyOptions{Source: legacy, Target: app, Tables: o.Site.CDC.Tables, Parallel: 2,
		Disposable: func(_ string, cols, row []string) bool { return platform.IsTestTraffic(cols, row) }}
	vr, err := cdc.Verify(ctx, vopts)
	if err != nil {
		return "", err
	}
	if err := protectedRows(vr); err != nil {
		return "", err
	}
	vopts.Repair = true // after the copy only the new side's extra rows differ
	o.changed()
	cr, err := cdc.Copy(ctx, cdc.CopyOptions{From: legacy, To: app, Tables: o.Site.CDC.Tables})
	if err != nil {
		return "", err
	}
	if vr, err = cdc.Verify(ctx, vopts); err != nil {
		return "", err
	}
	if err := protectedRows(vr); err != nil {
		return "", err
	}
	removed := 0
	if !vr.Equal() {
		for _, t := range vr.Tables {
			removed += t.Deletes
		}
		if vr, err = cdc.RepairAndVerify(ctx, vopts, vr); err != nil {
			return "", err
		}
		if !vr.Equal() {
			return "", fmt.Errorf("after the copy the sides still differ: %+v", vr.Tables)
		}
	}
	return fmt.Sprintf("copied %d rows, removed %d test rows only the new side had, verified equal", cr.Rows, removed), nil
}

// protectedRows is the error for rows only the new side has that are not test traffic.
func protectedRows(vr cdc.VerifyReport) error {
	var parts []string
	for _, t := range vr.Tables {
		if t.Protected > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d rows (%s)", t.Table, t.Protected, strings.Join(t.ProtectedKeys, "; ")))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("the new side has rows the legacy side lacks that are not the kit's test traffic, so a cutover would delete "+
		"what the new system acknowledged: %s. Bring them to legacy first (xckit verify --source <new> --target <legacy> --repair "+
		"adds them there) or, if they are known to be disposable, delete them on the new side by hand; then run the cutover again",
		strings.Join(parts, ", "))
}

func cdcInit(ctx context.Context, o *op) (string, error) {
	src, legacy, err := sides(ctx, o)
	if err != nil {
		return "", err
	}
	o.changed()
	if _, err := stopCDC(ctx, o); err != nil {
		return "", fmt.Errorf("stop the old cdc run before re-creating the slot: %w", err)
	}
	if err := cdc.Drop(ctx, src, legacy, o.Site.CDC.Slot); err != nil {
		return "", err
	}
	res, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: legacy, Slot: o.Site.CDC.Slot, Tables: o.Site.CDC.Tables})
	return "slot at " + res.StartLSN, err
}
