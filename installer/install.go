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
)

// errStopped is the test hook's "killed here": nothing more is recorded.
var errStopped = errors.New("stopped by the test hook")

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

// DirtyError: the last install stopped in the middle of a phase.
type DirtyError struct{ Phase string }

func (e *DirtyError) Error() string {
	return fmt.Sprintf("the last install stopped during phase %s and never finished it (the journal is dirty): check what it left, then run again with --resume", e.Phase)
}

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

// Install runs the phases in order. Completed phases run again (they are idempotent
// and then report 0 changes) unless Resume is set, which continues after the last
// completed one.
func Install(ctx context.Context, o Options) (Report, error) {
	o = withDefaults(o)
	rep := Report{Prefix: o.Prefix, Plan: o.Plan}
	st, err := journal.Read(o.journalPath())
	if err != nil {
		return rep, err
	}
	if st.Dirty != "" && !o.Resume && !o.Plan {
		return rep, &DirtyError{Phase: st.Dirty}
	}
	r := &run{o: o}
	defer r.close()
	phases := Phases()
	for _, name := range o.SkipPhases {
		if !slices.ContainsFunc(phases, func(p Phase) bool { return p.Name == name }) {
			return rep, fmt.Errorf("--skip-phases %s: no such phase (phases: %s)", name, strings.Join(PhaseNames(), ", "))
		}
	}
	if o.Plan {
		for _, p := range phases {
			pr := PhaseResult{Name: p.Name, Status: "planned"}
			if r.skipped(p) {
				pr.Status = "skipped"
			} else if pr.Plan, err = p.plan(ctx, r); err != nil {
				return rep, fmt.Errorf("plan %s: %w", p.Name, err)
			}
			rep.Phases = append(rep.Phases, pr)
			fmt.Fprintf(o.Out, "%-13s %s\n", p.Name, strings.Join(orSkipped(pr), "\n              "))
		}
		return rep, nil
	}
	j, err := journal.Open(o.journalPath())
	if err != nil {
		return rep, err
	}
	defer j.Close()
	var done []string
	for _, p := range phases {
		if r.skipped(p) || (o.Resume && st.Done[p.Name] && st.Dirty != p.Name) {
			reason := "skipped (--skip-phases)"
			switch {
			case !r.skipped(p):
				reason = "done before (--resume)"
			case p.Name == "os-tune" && !o.OSTune:
				reason = "skipped (--os-tune runs it)"
			}
			rep.Phases = append(rep.Phases, PhaseResult{Name: p.Name, Status: "skipped"})
			fmt.Fprintf(o.Out, "%-13s %s\n", p.Name, reason)
			if !r.skipped(p) {
				done = append(done, p.Name)
			}
			continue
		}
		if err := j.Append(journal.Entry{Step: p.Name, Event: journal.Started}); err != nil {
			return rep, err
		}
		start := time.Now()
		r.notes = nil
		changes, err := p.apply(ctx, r)
		pr := PhaseResult{Name: p.Name, Status: "done", Changes: changes, Seconds: time.Since(start).Seconds(), Notes: r.notes}
		if errors.Is(err, errStopped) {
			return rep, err // as if killed: the journal shows the phase started, not finished
		}
		if err != nil {
			j.Append(journal.Entry{Step: p.Name, Event: journal.Failed, Error: dbx.Redact(err.Error())})
			pr.Status = "failed"
			rep.Phases = append(rep.Phases, pr)
			fmt.Fprintf(o.Out, "%-13s FAILED after %.1fs: %v\n", p.Name, pr.Seconds, dbx.Redact(err.Error()))
			return rep, &PartialError{Done: done, Failed: p.Name, Err: err, Resume: "xckit install --resume (same flags)"}
		}
		if err := j.Append(journal.Entry{Step: p.Name, Event: journal.Finished, Changes: changes, Seconds: pr.Seconds}); err != nil {
			return rep, err
		}
		done = append(done, p.Name)
		rep.Phases = append(rep.Phases, pr)
		rep.Changes += changes
		fmt.Fprintf(o.Out, "%-13s done in %.2fs, %d changes%s\n", p.Name, pr.Seconds, changes, notes(r.notes))
	}
	fmt.Fprintf(o.Out, "install complete: %d changes\n", rep.Changes)
	return rep, nil
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
	for _, p := range Phases() {
		if p.Name != name {
			continue
		}
		r := &run{o: o}
		defer r.close()
		if o.Plan {
			lines, err := p.plan(ctx, r)
			return PhaseResult{Name: name, Status: "planned", Plan: lines}, err
		}
		j, err := journal.Open(o.journalPath())
		if err != nil {
			return PhaseResult{}, err
		}
		defer j.Close()
		j.Append(journal.Entry{Step: name, Event: journal.Started})
		start := time.Now()
		changes, err := p.apply(ctx, r)
		res := PhaseResult{Name: name, Status: "done", Changes: changes, Seconds: time.Since(start).Seconds(), Notes: r.notes}
		if err != nil {
			j.Append(journal.Entry{Step: name, Event: journal.Failed, Error: dbx.Redact(err.Error())})
			res.Status = "failed"
			return res, err
		}
		return res, j.Append(journal.Entry{Step: name, Event: journal.Finished, Changes: changes, Seconds: res.Seconds})
	}
	return PhaseResult{}, fmt.Errorf("no phase %q: phases are %s", name, strings.Join(PhaseNames(), ", "))
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
