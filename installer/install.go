package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/journal"
	"github.com/xckit/xckit/internal/runbook"
)

// PartialError says how far an install got: goose's model.
type PartialError struct {
	Done   []string
	Failed string
	Err    error
	Resume string // the command that continues
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("install stopped in phase %s after %s: %v\n  fix the cause, then continue with: %s",
		e.Failed, orNone(e.Done), e.Err, e.Resume)
}

func (e *PartialError) Unwrap() error { return e.Err }

func orNone(s []string) string {
	if len(s) == 0 {
		return "no completed phases"
	}
	return strings.Join(s, ", ")
}

// DirtyError: the last install stopped in the middle of a phase (the runbook engine's).
type DirtyError = runbook.DirtyError

// PhaseResult is one phase of a report.
type PhaseResult struct {
	Name    string   `json:"name"`
	Status  string   `json:"status"` // done, skipped, planned, failed
	Changes int      `json:"changes"`
	Seconds float64  `json:"seconds"`
	Plan    []string `json:"plan,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Report is what an install did (or, with Plan, would do).
type Report struct {
	Prefix  string        `json:"prefix"`
	Plan    bool          `json:"plan"`
	Phases  []PhaseResult `json:"phases"`
	Changes int           `json:"changes"`
}

// steps are the phases as runbook steps over one run's state.
func (r *run) steps() []runbook.Step {
	var out []runbook.Step
	for _, p := range Phases() {
		s := runbook.Step{
			Name: p.Name,
			Plan: func(ctx context.Context) ([]string, error) { return p.plan(ctx, r) },
			Apply: func(ctx context.Context) (runbook.Result, error) {
				r.notes = nil
				n, err := p.apply(ctx, r)
				return runbook.Result{Changes: n, Notes: r.notes}, err
			},
		}
		switch {
		case p.Name == "os-tune" && !r.o.OSTune:
			s.Skip = "skipped (--os-tune runs it)"
		case r.skipped(p):
			s.Skip = "skipped (--skip-phases)"
		}
		out = append(out, s)
	}
	return out
}

// Install runs the phases in order. Completed phases run again (they are idempotent
// and then report 0 changes) unless Resume is set, which continues after the last
// completed one.
func Install(ctx context.Context, o Options) (Report, error) {
	return install(ctx, o, nil)
}

// install is Install with a fault of the tests: kill, when set, is asked before each
// changing action (with the number of actions so far) and may stop the install there
// as a kill would (an error wrapping runbook.ErrKilled).
func install(ctx context.Context, o Options, kill func(actions int) error) (Report, error) {
	o = withDefaults(o)
	rep := Report{Prefix: o.Prefix, Plan: o.Plan}
	for _, name := range o.SkipPhases {
		if !slices.Contains(PhaseNames(), name) {
			return rep, fmt.Errorf("--skip-phases %s: no such phase (phases: %s)", name, strings.Join(PhaseNames(), ", "))
		}
	}
	r := &run{o: o, kill: kill}
	defer r.close()
	steps := r.steps()
	if o.Plan {
		plans, err := runbook.Plan(ctx, steps)
		if err != nil {
			return rep, err
		}
		for _, s := range steps {
			pr := PhaseResult{Name: s.Name, Status: "planned", Plan: plans[s.Name]}
			if s.Skip != "" {
				pr.Status = "skipped"
			}
			rep.Phases = append(rep.Phases, pr)
			fmt.Fprintf(o.Out, "%-13s %s\n", s.Name, strings.Join(orSkipped(pr), "\n              "))
		}
		return rep, nil
	}
	st, err := journal.Read(o.journalPath())
	if err != nil {
		return rep, err
	}
	rb := &runbook.Runner{Runbook: "install", State: st, Resume: o.Resume, Redact: dbx.Redact, Events: func(e runbook.Event) { rep.record(o.Out, e) }}
	if err := rb.Check(); err != nil {
		return rep, err
	}
	j, err := journal.Open(o.journalPath())
	if err != nil {
		return rep, err
	}
	defer j.Close()
	rb.Journal = j
	if _, err := rb.Run(ctx, steps); err != nil {
		var se *runbook.StepError
		if errors.As(err, &se) && !errors.Is(err, runbook.ErrKilled) {
			return rep, &PartialError{Done: se.Done, Failed: se.Step, Err: se.Err, Resume: "xckit install --resume (same flags)"}
		}
		return rep, err
	}
	fmt.Fprintf(o.Out, "install complete: %d changes\n", rep.Changes)
	return rep, nil
}

// record adds a step's event to the report and prints it.
func (rep *Report) record(w io.Writer, e runbook.Event) {
	pr := PhaseResult{Name: e.Step, Changes: e.Result.Changes, Seconds: e.Seconds, Notes: e.Result.Notes}
	switch e.Kind {
	case "skipped":
		pr.Status = "skipped"
		fmt.Fprintf(w, "%-13s %s\n", e.Step, e.Reason)
	case "resumed":
		pr.Status = "skipped"
		fmt.Fprintf(w, "%-13s done before (--resume)\n", e.Step)
	case "failed":
		if errors.Is(e.Err, runbook.ErrKilled) {
			return
		}
		pr.Status = "failed"
		fmt.Fprintf(w, "%-13s FAILED after %.1fs: %v\n", e.Step, e.Seconds, dbx.Redact(e.Err.Error()))
	case "done":
		pr.Status = "done"
		rep.Changes += e.Result.Changes
		fmt.Fprintf(w, "%-13s done in %.2fs, %d changes%s\n", e.Step, e.Seconds, e.Result.Changes, notes(e.Result.Notes))
	default:
		return
	}
	rep.Phases = append(rep.Phases, pr)
}

func notes(n []string) string {
	if len(n) == 0 {
		return ""
	}
	return "\n              " + strings.Join(n, "\n              ")
}

func orSkipped(p PhaseResult) []string {
	if p.Status == "skipped" {
		return []string{"skipped"}
	}
	if len(p.Plan) == 0 {
		return []string{"nothing to do"}
	}
	return p.Plan
}

// RunPhase runs one phase alone (xckit install phase NAME), recorded like any other.
func RunPhase(ctx context.Context, o Options, name string) (PhaseResult, error) {
	o = withDefaults(o)
	r := &run{o: o}
	defer r.close()
	i := slices.Index(PhaseNames(), name)
	if i < 0 {
		return PhaseResult{}, fmt.Errorf("no phase %q: phases are %s", name, strings.Join(PhaseNames(), ", "))
	}
	s := r.steps()[i]
	s.Skip = "" // named on its own, it runs
	if o.Plan {
		lines, err := s.Plan(ctx)
		return PhaseResult{Name: name, Status: "planned", Plan: lines}, err
	}
	j, err := journal.Open(o.journalPath())
	if err != nil {
		return PhaseResult{}, err
	}
	defer j.Close()
	res := PhaseResult{Name: name}
	rb := &runbook.Runner{Runbook: "install phase " + name, Journal: j, Redact: dbx.Redact, Events: func(e runbook.Event) {
		res.Status, res.Changes, res.Seconds, res.Notes = e.Kind, e.Result.Changes, e.Seconds, e.Result.Notes
	}}
	if _, err := rb.Run(ctx, []runbook.Step{s}); err != nil {
		var se *runbook.StepError
		if errors.As(err, &se) {
			return res, se.Err
		}
		return res, err
	}
	return res, nil
}

func withDefaults(o Options) Options {
	if o.Prefix == "" {
		o.Prefix = "/opt/xckit"
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if o.HealthWait <= 0 {
		o.HealthWait = 30 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return o
}
