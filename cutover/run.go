package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/journal"
	engine "github.com/xckit/xckit/internal/runbook"
	"github.com/xckit/xckit/profiles"
)

// Options drive a cutover or a rollback.
type Options struct {
	Site          *Site
	Profile       *profiles.Profile
	Plan          bool
	Resume        bool
	ForceDataLoss bool   // rollback: the new database is gone; skip the fence and report the window
	XckitBin      string // the xckit that runs `cdc run` (default: this executable)
	// Acceptance is the directory of a `bench acceptance` run the cutover gate requires
	// (passed, against the new system, at most AcceptanceMaxAge old); SkipAcceptance
	// waives the gate, on the operator's word.
	Acceptance       string
	AcceptanceMaxAge time.Duration
	SkipAcceptance   bool
	Out              io.Writer
	Log              *slog.Logger
}

// StepResult is one step of a report.
type StepResult struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // done, skipped, failed, undone, planned
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
}

// Report is what a cutover or rollback did.
type Report struct {
	Kind    string       `json:"kind"`
	Started time.Time    `json:"started"`
	Verdict string       `json:"verdict"` // ok, nothing-to-do, aborted (and restored), refused, planned
	Steps   []StepResult `json:"steps"`
	// World is what the command found before it changed anything.
	World *World `json:"world,omitempty"`
	// RTOSeconds is the window the clients saw: from the first drain of this run (or of
	// the interrupted run it resumed) until the balancer routed again.
	RTOSeconds float64   `json:"rto_seconds,omitempty"`
	Runs       []RunPart `json:"runs,omitempty"`
	// RPOTransactions is how many transactions the new side accepted that the legacy
	// side lacks: 0 when the CDC applied the fence position, -1 when unknown
	// (--force-data-loss). RPO says the same in words.
	RPOTransactions *int   `json:"rpo_transactions,omitempty"`
	RPO             string `json:"rpo,omitempty"`
	FenceLSN        string `json:"fence_lsn,omitempty"`
	// ForwardLag is forward CDC's lag when the legacy fence was read (cutover with
	// cdc.forward): what the window had to drain.
	ForwardLag string `json:"forward_lag_at_fence,omitempty"`
	// Window is the clients' wait (RTO) step by step, from the drain to the route.
	Window []WindowPart `json:"window,omitempty"`
	// Nodes are the new database's nodes as the rollback's fence proved them.
	Nodes    []FencedNode `json:"nodes,omitempty"`
	Restored []string     `json:"restored,omitempty"`
}

// WindowPart is one step's share of the window.
type WindowPart struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
}

// RunPart is one command's share of a runbook run that was interrupted and resumed.
type RunPart struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Resumed bool      `json:"resumed"`
}

type step struct {
	name string
	plan string
	// do applies the step. It reads the world first, calls o.changed() only when it
	// changes something, and does nothing when its goal already holds.
	do func(ctx context.Context, o *op) (string, error)
	// undo restores what do changed; it is called only for steps that changed
	// something (in this run, or in the interrupted run this one resumes).
	undo func(ctx context.Context, o *op) error
	// resumed, when set, restores what the step established in an earlier,
	// interrupted run (--resume skips it).
	resumed func(o *op)
}

// op is one run's state.
type op struct {
	Options
	sw       Switcher
	start    time.Time
	fence    string
	rep      *Report
	touched  bool      // the current step changed something
	drainAt  time.Time // when the balancer stopped sending traffic (this run or the one resumed)
	routedAt time.Time
	dbs      map[string]*dbx.DB // the sides, opened once per run (db)
}

// changed records that the current step changed the world, so that an abort undoes it.
func (o *op) changed() { o.touched = true }

func (o *op) journalPath(kind string) string {
	return filepath.Join(o.Site.New.Prefix, "state", kind+".journal")
}

// runbook is one of the two commands: its steps, and how it reads the world before
// it starts (admit says whether to run, to do nothing, or to refuse).
type runbook struct {
	kind      string
	other     string // the opposite runbook, whose interrupted run this one supersedes
	routeStep string // the step that routes traffic again (the end of the clients' wait)
	steps     []step
	admit     func(w World, resuming bool) (verdict, why string)
}

// Verdicts of admit.
const (
	admitRun     = "run"
	admitNothing = "nothing-to-do"
	admitRefuse  = "refused"
)

// execute runs the steps with journal, plan, resume and restore-on-abort.
func execute(ctx context.Context, opts Options, rb runbook) (Report, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.XckitBin == "" {
		opts.XckitBin, _ = os.Executable()
	}
	sw, err := NewSwitcher(opts.Site.Switch)
	if err != nil {
		return Report{}, err
	}
	o := &op{Options: opts, sw: sw, start: time.Now(), rep: &Report{Kind: rb.kind, Started: time.Now().UTC()}}
	defer o.closeDBs()
	if o.Plan {
		return o.plan(rb), nil
	}
	st, proceed, err := o.admit(ctx, rb)
	if err != nil || !proceed {
		return *o.rep, err
	}
	j, st, err := o.begin(rb, st)
	if err != nil {
		return *o.rep, err
	}
	defer j.Close()
	o.drainAt = drainStart(st.SinceReset)
	rep, err := o.run(ctx, j, st, rb)
	rep.Runs = runParts(st.SinceReset, o.start)
	return rep, err
}

// plan lists the steps, changing nothing.
func (o *op) plan(rb runbook) Report {
	o.rep.Verdict = "planned"
	for i, s := range rb.steps {
		fmt.Fprintf(o.Out, "%2d. %-14s %s\n", i+1, s.name, s.plan)
		o.rep.Steps = append(o.rep.Steps, StepResult{Name: s.name, Status: "planned", Detail: s.plan})
	}
	return *o.rep
}

// admit reads the journal and the world as it is (what routes, what runs, what is
// fenced) and decides: run, nothing to do (the goal holds), or refuse.
func (o *op) admit(ctx context.Context, rb runbook) (journal.State, bool, error) {
	st, err := journal.Read(o.journalPath(rb.kind))
	if err != nil {
		return st, false, err
	}
	w := observe(ctx, o)
	o.rep.World = &w
	fmt.Fprintf(o.Out, "    found: %s\n", w)
	// A journal whose last step finished records a completed run: --resume has
	// nothing to continue, and a fresh run starts from the world as it is.
	if st.Done[rb.steps[len(rb.steps)-1].name] && st.Dirty == "" {
		o.Resume = false
	}
	resuming := o.Resume && (st.Dirty != "" || len(st.Done) > 0)
	verdict, why := rb.admit(w, resuming)
	switch {
	case verdict == admitNothing:
		o.rep.Verdict = admitNothing
		fmt.Fprintf(o.Out, "%s: nothing to do: %s\n", rb.kind, why)
		if st.Dirty != "" || len(st.Done) > 0 {
			// The goal holds: the interrupted run needs no resuming.
			return st, false, appendJournal(o.journalPath(rb.kind), journal.Entry{Step: "*", Event: journal.Reset})
		}
		return st, false, nil
	case st.Dirty != "" && !o.Resume:
		return st, false, &engine.DirtyError{Runbook: rb.kind, Step: st.Dirty}
	case verdict == admitRefuse:
		o.rep.Verdict = admitRefuse
		return st, false, fmt.Errorf("%s refused, nothing changed: %s", rb.kind, why)
	}
	return st, true, nil
}

// begin opens the journal for a run that changes the world: an interrupted run of the
// other runbook no longer describes it and must never be resumed over it; a fresh run
// resets the journal; a resumed one must run as the one it continues did.
func (o *op) begin(rb runbook, st journal.State) (*journal.Journal, journal.State, error) {
	if err := supersede(o.journalPath(rb.other)); err != nil {
		return nil, st, err
	}
	j, err := journal.Open(o.journalPath(rb.kind))
	if err != nil {
		return nil, st, err
	}
	fail := func(err error) (*journal.Journal, journal.State, error) { j.Close(); return nil, st, err }
	if !o.Resume {
		st = journal.State{Done: map[string]bool{}, Changed: map[string]bool{}}
		if err := j.Append(journal.Entry{Step: "*", Event: journal.Reset}); err != nil {
			return fail(err)
		}
	}
	note := ""
	if o.ForceDataLoss {
		note = "force-data-loss"
	}
	if o.Resume {
		for _, e := range st.SinceReset {
			if e.Event == journal.Begin && e.Note != note {
				return fail(fmt.Errorf("the interrupted %s ran %s--force-data-loss: resume it the same way (its RPO depends on it)", rb.kind,
					map[bool]string{true: "with ", false: "without "}[e.Note == "force-data-loss"]))
			}
		}
	}
	if err := j.Append(journal.Entry{Step: "*", Event: journal.Begin, Note: note}); err != nil {
		return fail(err)
	}
	return j, st, nil
}

// run applies the steps in order on the runbook engine; a failure undoes, newest
// first, what was changed, unless traffic may have moved (the route step started).
func (o *op) run(ctx context.Context, j *journal.Journal, st journal.State, rb runbook) (Report, error) {
	r := &engine.Runner{Runbook: rb.kind, Journal: j, State: st, Resume: o.Resume, Undo: true, Redact: dbx.Redact, Events: o.event}
	_, err := r.Run(ctx, o.engineSteps(rb))
	if err != nil {
		var se *engine.StepError
		if !errors.As(err, &se) {
			return *o.rep, err
		}
		if errors.Is(err, engine.ErrKilled) {
			return *o.rep, err // a step stopped as a kill would (tests): nothing more recorded
		}
		o.printRestored()
		detail := dbx.Redact(se.Err.Error())
		if se.PastNoReturn {
			o.rep.Verdict = "failed-after-route"
			return *o.rep, fmt.Errorf("%s: step %s failed after traffic was routed (%s): nothing is undone, since the routed side may "+
				"already have accepted payments; find the cause, then run the same command with --resume", rb.kind, se.Step, detail)
		}
		o.rep.Verdict = "aborted"
		return *o.rep, fmt.Errorf("%s aborted at step %s: %s; %s", rb.kind, se.Step, detail, restoredText(o.rep.Restored))
	}
	if o.routedAt.IsZero() { // routed by the interrupted run this one resumed
		o.routedAt = lastFinish(st.SinceReset, rb.routeStep)
	}
	if !o.drainAt.IsZero() && !o.routedAt.IsZero() {
		o.rep.RTOSeconds = o.routedAt.Sub(o.drainAt).Seconds()
		o.rep.Window = window(o.rep.Steps, rb.routeStep)
	}
	o.rep.Verdict = "ok"
	return *o.rep, nil
}

// window is the steps from the drain to the route, with their seconds.
func window(steps []StepResult, routeStep string) []WindowPart {
	var out []WindowPart
	in := false
	for _, s := range steps {
		if s.Name == "drain" {
			in = true
		}
		if in && s.Status == "done" {
			out = append(out, WindowPart{Step: s.Name, Seconds: s.Seconds})
		}
		if s.Name == routeStep {
			break
		}
	}
	return out
}

// engineSteps are the runbook's steps for the engine: each reads the world, says
// whether it changed it (o.changed), and is undone only then.
func (o *op) engineSteps(rb runbook) []engine.Step {
	var out []engine.Step
	for _, s := range rb.steps {
		es := engine.Step{
			Name:     s.name,
			NoReturn: s.name == rb.routeStep,
			Apply: func(ctx context.Context) (engine.Result, error) {
				if s.name == "drain" && o.drainAt.IsZero() {
					o.drainAt = time.Now()
				}
				o.touched = false
				detail, err := s.do(ctx, o)
				res := engine.Result{Detail: detail}
				if o.touched {
					res.Changes = 1
				}
				return res, err
			},
		}
		if s.undo != nil {
			es.Undo = func(ctx context.Context) error { return s.undo(ctx, o) }
		}
		if s.resumed != nil {
			es.Resumed = func() { s.resumed(o) }
		}
		out = append(out, es)
	}
	return out
}

// event prints a step's progress and records it in the report.
func (o *op) event(e engine.Event) {
	switch e.Kind {
	case "resumed":
		fmt.Fprintf(o.Out, "%2d. %-14s done before (--resume)\n", e.Index, e.Step)
		o.rep.Steps = append(o.rep.Steps, StepResult{Name: e.Step, Status: "skipped", Detail: "done before"})
	case "done":
		detail := e.Result.Detail
		if e.Result.Changes == 0 && detail == "" {
			detail = "nothing to change"
		}
		o.rep.Steps = append(o.rep.Steps, StepResult{Name: e.Step, Status: "done", Seconds: e.Seconds, Detail: detail})
		fmt.Fprintf(o.Out, "%2d. %-14s done in %5.2fs  %s\n", e.Index, e.Step, e.Seconds, detail)
	case "failed":
		if errors.Is(e.Err, engine.ErrKilled) {
			return
		}
		res := StepResult{Name: e.Step, Status: "failed", Seconds: e.Seconds, Detail: dbx.Redact(e.Err.Error())}
		o.rep.Steps = append(o.rep.Steps, res)
		fmt.Fprintf(o.Out, "%2d. %-14s FAILED after %.2fs: %s\n", len(o.rep.Steps), e.Step, res.Seconds, res.Detail)
	case "undone":
		o.rep.Restored = append(o.rep.Restored, "undid "+e.Step)
	case "undo-failed":
		o.rep.Restored = append(o.rep.Restored, fmt.Sprintf("could NOT undo %s: %v; stopped restoring there (older steps keep their effect: the balancer stays as it is)", e.Step, e.Err))
	}
}

func (o *op) printRestored() {
	for _, r := range o.rep.Restored {
		fmt.Fprintln(o.Out, "    restore: "+r)
	}
}

func restoredText(r []string) string {
	if len(r) == 0 {
		return "nothing needed restoring"
	}
	return "restored: " + strings.Join(r, ", ")
}

// supersede resets a journal that holds an unfinished run (dirty, or steps done
// without the last one), so that its --resume starts afresh from the world as it is.
func supersede(path string) error {
	st, err := journal.Read(path)
	if err != nil {
		return err
	}
	if st.Dirty == "" && len(st.Done) == 0 {
		return nil
	}
	return appendJournal(path, journal.Entry{Step: "*", Event: journal.Reset, Error: "superseded by the opposite runbook"})
}

// appendJournal opens the journal, appends one entry and closes it.
func appendJournal(path string, e journal.Entry) error {
	j, err := journal.Open(path)
	if err != nil {
		return err
	}
	if err := j.Append(e); err != nil {
		j.Close()
		return err
	}
	return j.Close()
}

// drainStart is when the clients' wait began: the start of the drain that stands (a
// drain undone by an abort does not count; zero if none).
func drainStart(entries []journal.Entry) time.Time {
	var t time.Time
	for _, e := range entries {
		switch {
		case e.Step == "drain" && e.Event == journal.Undone:
			t = time.Time{}
		case e.Step == "drain" && e.Event == journal.Started && t.IsZero():
			t = e.Time
		}
	}
	return t
}

// firstStart is when the named step first started in the entries (zero if never).
func firstStart(entries []journal.Entry, name string) time.Time {
	for _, e := range entries {
		if e.Step == name && e.Event == journal.Started {
			return e.Time
		}
	}
	return time.Time{}
}

// lastFinish is when the named step last finished in the entries (zero if never).
func lastFinish(entries []journal.Entry, name string) time.Time {
	var t time.Time
	for _, e := range entries {
		if e.Step == name && e.Event == journal.Finished {
			t = e.Time
		}
	}
	return t
}

// runParts splits the journal since the last reset into the commands that wrote it,
// and adds this one (started at now).
func runParts(entries []journal.Entry, now time.Time) []RunPart {
	var parts []RunPart
	for _, e := range entries {
		switch {
		case e.Event == journal.Begin:
			parts = append(parts, RunPart{Started: e.Time, Resumed: len(parts) > 0})
		case len(parts) > 0:
			p := &parts[len(parts)-1]
			p.Seconds = e.Time.Sub(p.Started).Seconds()
		}
	}
	parts = append(parts, RunPart{Started: now.UTC(), Seconds: time.Since(now).Seconds(), Resumed: len(parts) > 0})
	return parts
}

// sh runs a site command.
func sh(ctx context.Context, command string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", command, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitReady polls a URL until it answers 200, for at most d; each request has its own
// deadline, and an ended ctx (Ctrl-C) ends the wait at once.
func waitReady(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for {
		rctx, cancel := context.WithTimeout(ctx, min(5*time.Second, max(time.Until(deadline), 100*time.Millisecond)))
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			return fmt.Errorf("ready URL %q: %w", url, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", url, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (last: %s)", url, d, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// smoke sends a signed debit and credit of one fen through the balancer.
// db opens a side once per run: the steps share its pool, closed when the run ends
// (a side that restarts meanwhile is reconnected by the pool).
func (o *op) db(ctx context.Context, dsn, what string) (*dbx.DB, error) {
	if db, ok := o.dbs[dsn]; ok {
		return db, nil
	}
	db, err := openDB(ctx, dsn, what)
	if err != nil {
		return nil, err
	}
	if o.dbs == nil {
		o.dbs = map[string]*dbx.DB{}
	}
	o.dbs[dsn] = db
	return db, nil
}

func (o *op) closeDBs() {
	for _, db := range o.dbs {
		db.Close()
	}
}

func openDB(ctx context.Context, dsn, what string) (*dbx.DB, error) {
	db, err := dbx.Open(ctx, dsn, dbx.Options{AppName: "xckit-cutover", ConnectTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return db, nil
}
