package cutover

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/internal/dbx"
)

// World is what a runbook finds before it changes anything: where the balancer sends
// traffic, which applications answer, whether the new side's role is fenced and
// whether the CDC runs. Each runbook decides from it, not from its own journal, what
// there is to do (a rollback when legacy is already live does nothing).
type World struct {
	Route      Side   `json:"route"`
	RouteError string `json:"route_error,omitempty"`
	LegacyUp   bool   `json:"legacy_up"`
	NewUp      bool   `json:"new_up"`
	// NewFenced: the platform's role on the new side is read-only. FenceError says
	// why it could not be read (the new database is down, say).
	NewFenced  bool   `json:"new_fenced"`
	FenceError string `json:"fence_error,omitempty"`
	CDCRunning bool   `json:"cdc_running"`
}

func (w World) String() string {
	route := string(w.Route)
	if w.RouteError != "" {
		route = "unknown (" + w.RouteError + ")"
	}
	fenced := fmt.Sprint(w.NewFenced)
	if w.FenceError != "" {
		fenced = "unknown (" + w.FenceError + ")"
	}
	return fmt.Sprintf("route %s; legacy app %s; new app %s; new side fenced %s; cdc run %s",
		route, upDown(w.LegacyUp), upDown(w.NewUp), fenced, map[bool]string{true: "running", false: "not running"}[w.CDCRunning])
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// observe reads the world. It never fails: what it cannot read it says.
func observe(ctx context.Context, o *op) World {
	var w World
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	side, err := o.sw.Current(cctx)
	w.Route = side
	if err != nil {
		w.Route, w.RouteError = "", dbx.Redact(err.Error())
	}
	w.LegacyUp = answers(cctx, o.Site.Legacy.Ready)
	w.NewUp = installer.AppPID(o.Site.New.Prefix) != 0 && answers(cctx, "http://"+o.Site.New.Listen+"/readyz")
	if f, err := roleFenced(cctx, o); err != nil {
		w.FenceError = dbx.Redact(err.Error())
	} else {
		w.NewFenced = f
	}
	w.CDCRunning = livePid(cdcPid(o)) != 0
	return w
}

// answers reports whether url answers 200 within two seconds.
func answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// roleFenced reads whether the platform's role carries the read-only fence.
func roleFenced(ctx context.Context, o *op) (bool, error) {
	app, err := dbx.ParseDSN(o.Site.New.DB)
	if err != nil {
		return false, err
	}
	admin, err := o.db(ctx, o.Site.New.AdminDB, "new side admin")
	if err != nil {
		return false, err
	}
	return fencedRole(ctx, admin, app.User)
}

// fencedRole reads whether the role carries the read-only fence (dbx.RoleFencedSQL,
// the query install's db-bootstrap asks too).
func fencedRole(ctx context.Context, admin *dbx.DB, user string) (bool, error) {
	var n int
	if err := admin.QueryRowContext(ctx, admin.Dialect.RoleFencedSQL(), user).Scan(&n); err != nil {
		return false, fmt.Errorf("read role %s: %w", user, err)
	}
	return n > 0, nil
}

// admitRollback decides from the world whether a rollback has anything to do.
// The legacy side holds the truth only once a rollback made it so: a rollback starts
// from a live new side (routed to it) or continues one it interrupted.
func admitRollback(w World, resuming bool) (string, string) {
	switch {
	case w.RouteError != "":
		return admitRefuse, "cannot read where the balancer routes (" + w.RouteError + "): fix the switch, then run the rollback again"
	case w.Route == SideLegacy && w.LegacyUp && w.CDCRunning:
		return admitRefuse, "the balancer routes to legacy and the legacy application is up, but cdc run still runs: it would apply " +
			"the new side's writes over the live legacy data; stop it (xckit cdc stop --slot <slot>) after checking the new side takes no writes"
	case w.Route == SideLegacy && w.LegacyUp:
		why := "the balancer routes to legacy and the legacy application is up"
		if w.NewUp {
			why += "; note: the new payd is up (not routed)"
		}
		if !w.NewFenced {
			why += "; note: the new side is not fenced"
		}
		return admitNothing, why
	case resuming:
		return admitRun, ""
	case w.Route == SideNew:
		return admitRun, ""
	case w.Route == SideLegacy:
		return admitRefuse, "the balancer routes to legacy but the legacy application does not answer " +
			"(legacy.ready): start it with legacy.start and check its log; the new side's data is not the truth any more"
	}
	return admitRefuse, "the balancer is drained and no rollback is in progress: a cutover may have stopped half-way " +
		"(finish it with xckit cutover --resume), or someone drained it by hand (route it back, then decide)"
}

// admitCutover decides from the world whether a cutover has anything to do. Its copy
// overwrites the new side with the legacy data, so it starts only from a live legacy
// side (routed to it) or continues one it interrupted; never over a live new side.
func admitCutover(w World, resuming bool) (string, string) {
	switch {
	case w.RouteError != "":
		return admitRefuse, "cannot read where the balancer routes (" + w.RouteError + "): fix the switch, then run the cutover again"
	case w.Route == SideNew && w.NewUp && !w.LegacyUp && w.CDCRunning && !w.NewFenced && w.FenceError == "":
		return admitNothing, "the balancer routes to the new system, which is up and writable, the legacy application is down, and cdc run keeps legacy in step"
	case resuming:
		return admitRun, ""
	case w.Route == SideLegacy:
		return admitRun, ""
	case w.Route == SideNew:
		var fix []string
		if !w.NewUp {
			fix = append(fix, "the new payd does not answer: start it (xckit install phase start)")
		}
		if w.LegacyUp {
			fix = append(fix, "the legacy application is up: stop it (legacy.stop)")
		}
		if !w.CDCRunning {
			fix = append(fix, "cdc run is not running: start it (xckit cdc run --slot <slot>); it resumes from its checkpoint")
		}
		if w.NewFenced {
			fix = append(fix, "the new side is fenced read-only: a rollback may be half-way (xckit rollback --resume)")
		}
		return admitRefuse, "the balancer already routes to the new system, so legacy is not the truth: a cutover would copy stale data over it; " + strings.Join(fix, "; ")
	}
	return admitRefuse, "the balancer is drained and no cutover is in progress: a rollback may have stopped half-way " +
		"(finish it with xckit rollback --resume), or someone drained it by hand (route it back, then decide)"
}
