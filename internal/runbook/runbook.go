package runbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/journal"
)

// Result is what a step did.
type Result struct {
	Changes int      // 0 when its goal already held
	Detail  string   // one line for the operator
	Notes   []string // further lines
}

// Step is one named step.
type Step struct {
	Name string
	// Plan says what the step would do, changing nothing.
	Plan func(ctx context.Context) ([]string, error)
	// Apply does the step, reading the world first: it changes nothing when its goal
	// holds (and says so with Changes 0).
	Apply func(ctx context.Context) (Result, error)
	// Undo restores what Apply changed; it runs only for a step that changed something
	// (in this run, or in the interrupted run a --resume continues). Nil: not undone.
	Undo func(ctx context.Context) error
	// Skip, when not empty, leaves the step out with that reason.
	Skip string
	// Resumed restores, in memory, what the step established in the interrupted run
	// that --resume continues (the step is not applied again).
	Resumed func()
	// NoReturn: once this step has changed something (its Result says so, also when it
	// fails; or it was under way when the run it resumes stopped) nothing is undone any
	// more: the cutover's route, after which the routed side may have taken payments.
	// A step that refuses before changing anything is still undone behind.
	NoReturn bool
}

// Journal is where a run records itself: internal/journal's fsynced file, or a test's.
type Journal interface {
	Append(journal.Entry) error
}

// Event is progress, for the command's output.
type Event struct {
	Index   int // 1-based
	Step    string
	Kind    string // skipped, resumed, done, failed, undone, undo-failed
	Reason  string // of a skip
	Result  Result
	Seconds float64
	Err     error
}

// DirtyError: the journal's last run stopped inside a step and never finished it.
type DirtyError struct {
	Runbook, Step string
}

func (e *DirtyError) Error() string {
	return fmt.Sprintf("the last %s stopped during step %s and never finished it (the journal is dirty): check what it left, then run it again with --resume", e.Runbook, e.Step)
}

// StepError is a run that stopped at a failed step.
type StepError struct {
	Runbook string
	Step    string
	Err     error
	Done    []string // steps finished before it (this run or the one resumed)
	// Undone lists what the run restored, newest first; UndoErr the undo that failed
	// (restoring stopped there).
	Undone  []string
	UndoErr error
	// PastNoReturn: the failure came after the point of no return: nothing was undone.
	PastNoReturn bool
}

func (e *StepError) Error() string {
	switch {
	case e.PastNoReturn:
		return fmt.Sprintf("%s: step %s failed after the point of no return (%v): nothing is undone; find the cause, then run the same command with --resume", e.Runbook, e.Step, e.Err)
	case e.UndoErr != nil:
		return fmt.Sprintf("%s aborted at step %s: %v; could not undo: %v", e.Runbook, e.Step, e.Err, e.UndoErr)
	}
	return fmt.Sprintf("%s stopped at step %s: %v", e.Runbook, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// UndoTimeout bounds the undo of a failed run, which goes on after Ctrl-C.
var UndoTimeout = 2 * time.Minute

// ErrKilled, returned (wrapped) by a step, stops the run as a killed process would:
// nothing more is journaled and nothing undone. Tests stop steps half-way with it.
var ErrKilled = errors.New("killed")

// Runner runs a runbook's steps.
type Runner struct {
	Runbook string        // install, cutover, rollback: for messages
	Journal Journal       // written as the run goes
	State   journal.State // what the journal said before this run (journal.Read)
	Resume  bool          // continue the run the journal records
	Undo    bool          // on failure, undo what the run changed
	Events  func(Event)   // progress (nil: none)
	// Redact cleans an error's text before the journal keeps it (passwords).
	Redact func(string) string
}

// Check refuses a dirty journal unless the run resumes it.
func (r *Runner) Check() error {
	if r.State.Dirty != "" && !r.Resume {
		return &DirtyError{Runbook: r.Runbook, Step: r.State.Dirty}
	}
	return nil
}

// Plan collects each step's plan, changing nothing.
func Plan(ctx context.Context, steps []Step) (map[string][]string, error) {
	out := map[string][]string{}
	for _, s := range steps {
		if s.Skip != "" || s.Plan == nil {
			continue
		}
		lines, err := s.Plan(ctx)
		if err != nil {
			return out, fmt.Errorf("plan %s: %w", s.Name, err)
		}
		out[s.Name] = lines
	}
	return out, nil
}

func (r *Runner) emit(e Event) {
	if r.Events != nil {
		r.Events(e)
	}
}

// Run applies the steps in order. A step the resumed run finished is skipped (its
// Resumed called); the step it was in is run again. Before a step the journal records
// it started, after it finished (or failed): a failed write stops the run like a failed
// step. On failure, with Undo, what the run changed is undone newest first, each undo
// journaled, and the journal reset when all are undone; past a NoReturn step nothing is.
func (r *Runner) Run(ctx context.Context, steps []Step) (done []string, err error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	var ran []Step // resumed, finished or half-done, in order
	changed := map[string]bool{}
	noReturn := false
	fail := func(s Step, cause error) error {
		se := &StepError{Runbook: r.Runbook, Step: s.Name, Err: cause, Done: done, PastNoReturn: noReturn}
		if r.Undo && !noReturn {
			// Undo even after Ctrl-C: the world must not be left half-way.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UndoTimeout)
			defer cancel()
			se.Undone, se.UndoErr = r.restore(uctx, ran, changed)
		}
		return se
	}
	for i, s := range steps {
		if s.Skip != "" {
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "skipped", Reason: s.Skip})
			continue
		}
		if r.Resume && r.State.Done[s.Name] && r.State.Dirty != s.Name {
			if s.Resumed != nil {
				s.Resumed()
			}
			ran, changed[s.Name] = append(ran, s), r.State.Changed[s.Name]
			noReturn = noReturn || s.NoReturn
			done = append(done, s.Name)
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "resumed"})
			continue
		}
		if r.Resume && r.State.Dirty == s.Name && s.NoReturn {
			noReturn = true // it may have moved traffic before the run stopped
		}
		if err := ctx.Err(); err != nil {
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "failed", Err: err})
			return done, fail(s, err)
		}
		if err := r.Journal.Append(journal.Entry{Step: s.Name, Event: journal.Started}); err != nil {
			err = fmt.Errorf("journal: %w", err)
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "failed", Err: err})
			return done, fail(s, err)
		}
		t0 := time.Now()
		res, err := s.Apply(ctx)
		secs := time.Since(t0).Seconds()
		if errors.Is(err, ErrKilled) {
			return done, &StepError{Runbook: r.Runbook, Step: s.Name, Err: err, Done: done}
		}
		// Even a failed step may have changed something half-way: undo it too.
		ran, changed[s.Name] = append(ran, s), res.Changes > 0
		noReturn = noReturn || s.NoReturn && res.Changes > 0
		if err != nil {
			text := err.Error()
			if r.Redact != nil {
				text = r.Redact(text)
			}
			if jerr := r.Journal.Append(journal.Entry{Step: s.Name, Event: journal.Failed, Error: text}); jerr != nil {
				err = fmt.Errorf("%w; and the journal could not record it: %v", err, jerr)
			}
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "failed", Result: res, Seconds: secs, Err: err})
			return done, fail(s, err)
		}
		if err := r.Journal.Append(journal.Entry{Step: s.Name, Event: journal.Finished, Changes: res.Changes, Seconds: secs}); err != nil {
			err = fmt.Errorf("journal: %w", err)
			r.emit(Event{Index: i + 1, Step: s.Name, Kind: "failed", Result: res, Seconds: secs, Err: err})
			return done, fail(s, err)
		}
		done = append(done, s.Name)
		r.emit(Event{Index: i + 1, Step: s.Name, Kind: "done", Result: res, Seconds: secs})
	}
	return done, nil
}

// restore undoes, newest first, the steps that changed something, journaling each
// undo (a --resume must not skip a step whose work was undone). At the first undo that
// fails it stops, and journals every step from that one on as undone (changed or not),
// so that a --resume runs them all again from the world as it is. When all are undone
// the world is as the run found it: the journal is reset.
func (r *Runner) restore(ctx context.Context, ran []Step, changed map[string]bool) (undone []string, err error) {
	var jerrs []string
	mark := func(name string) {
		if e := r.Journal.Append(journal.Entry{Step: name, Event: journal.Undone}); e != nil {
			jerrs = append(jerrs, e.Error())
		}
	}
	for i := len(ran) - 1; i >= 0; i-- {
		s := ran[i]
		if s.Undo == nil || !changed[s.Name] {
			continue
		}
		if uerr := s.Undo(ctx); uerr != nil {
			for _, t := range ran[i:] {
				mark(t.Name)
			}
			r.emit(Event{Step: s.Name, Kind: "undo-failed", Err: uerr})
			return undone, joinJournal(fmt.Errorf("%s: %w", s.Name, uerr), jerrs)
		}
		mark(s.Name)
		undone = append(undone, s.Name)
		r.emit(Event{Step: s.Name, Kind: "undone"})
	}
	if e := r.Journal.Append(journal.Entry{Step: "*", Event: journal.Reset}); e != nil {
		jerrs = append(jerrs, e.Error())
	}
	return undone, joinJournal(nil, jerrs)
}

func joinJournal(err error, jerrs []string) error {
	if len(jerrs) == 0 {
		return err
	}
	return errors.Join(err, fmt.Errorf("the journal could not record the undo: %s", strings.Join(jerrs, "; ")))
}
