package runbook

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xckit/xckit/internal/journal"
)

// world is what fake steps change: a set of facts, each step adding its own.
type world struct {
	facts   map[string]bool
	applied []string // every Apply call, in order
	undone  []string
	fail    map[string]bool // Apply fails (after changing the world)
	failUn  map[string]bool // Undo fails
	resumed []string
}

func (w *world) step(name string) Step {
	return Step{
		Name: name,
		Plan: func(context.Context) ([]string, error) { return []string{"would " + name}, nil },
		Apply: func(context.Context) (Result, error) {
			w.applied = append(w.applied, name)
			if w.facts[name] {
				return Result{Detail: "already"}, nil
			}
			w.facts[name] = true
			if w.fail[name] {
				return Result{Changes: 1}, errors.New(name + " broke half-way")
			}
			return Result{Changes: 1, Detail: "did " + name}, nil
		},
		Undo: func(context.Context) error {
			if w.failUn[name] {
				return errors.New("cannot undo " + name)
			}
			delete(w.facts, name)
			w.undone = append(w.undone, name)
			return nil
		},
		Resumed: func() { w.resumed = append(w.resumed, name) },
	}
}

func newWorld() *world {
	return &world{facts: map[string]bool{}, fail: map[string]bool{}, failUn: map[string]bool{}}
}

func (w *world) steps(names ...string) []Step {
	var out []Step
	for _, n := range names {
		out = append(out, w.step(n))
	}
	return out
}

// fileJournal is internal/journal's file, with a failure injected at the n-th append
// (1-based; 0 never): the test's stand-in for a full disk or a process killed there.
type fileJournal struct {
	j      *journal.Journal
	n      int
	failAt int
}

func (f *fileJournal) Append(e journal.Entry) error {
	f.n++
	if f.n == f.failAt {
		return errors.New("disk full")
	}
	return f.j.Append(e)
}

func openJournal(t *testing.T, path string, failAt int) *fileJournal {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &fileJournal{j: j, failAt: failAt}
}

func read(t *testing.T, path string) journal.State {
	t.Helper()
	st, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRunPlanResumeUndo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.journal")

	// Plan changes nothing.
	w := newWorld()
	plans, err := Plan(ctx, w.steps("a", "b"))
	if err != nil || strings.Join(plans["b"], "") != "would b" || len(w.applied) != 0 {
		t.Fatalf("plan: %v %v %v", plans, err, w.applied)
	}

	// A failure undoes newest first what changed (the failed step too: it broke
	// half-way), journals each undo, and resets the journal.
	w = newWorld()
	w.facts["b"] = true // b's goal already holds: nothing to undo there
	w.fail["c"] = true
	r := &Runner{Runbook: "t", Journal: openJournal(t, path, 0), State: read(t, path), Undo: true}
	_, err = r.Run(ctx, w.steps("a", "b", "c", "d"))
	var se *StepError
	if !errors.As(err, &se) || se.Step != "c" || !slices.Equal(se.Undone, []string{"c", "a"}) || !slices.Equal(w.undone, []string{"c", "a"}) || w.facts["a"] || !w.facts["b"] {
		t.Fatalf("undo: %v %+v undone %v facts %v", err, se, w.undone, w.facts)
	}
	if st := read(t, path); len(st.Done) != 0 || st.Dirty != "" {
		t.Errorf("after a full undo the journal is reset: %+v", st)
	}

	// An undo that fails stops the restore there; every step from it on is journaled
	// undone, so a --resume runs them again.
	w = newWorld()
	w.fail["c"], w.failUn["b"] = true, true
	r = &Runner{Runbook: "t", Journal: openJournal(t, path, 0), State: read(t, path), Undo: true}
	_, err = r.Run(ctx, w.steps("a", "b", "c"))
	if !errors.As(err, &se) || se.UndoErr == nil || !slices.Equal(w.undone, []string{"c"}) || !w.facts["a"] {
		t.Fatalf("undo failing: %v undone %v facts %v", err, w.undone, w.facts)
	}
	if st := read(t, path); !st.Done["a"] || st.Done["b"] || st.Done["c"] {
		t.Errorf("journal after a failed undo: done %v", st.Done)
	}

	// Past the point of no return nothing is undone.
	w = newWorld()
	w.fail["d"] = true
	steps := w.steps("a", "route", "d")
	steps[1].NoReturn = true
	r = &Runner{Runbook: "t", Journal: openJournal(t, filepath.Join(t.TempDir(), "n.journal"), 0), Undo: true}
	_, err = r.Run(ctx, steps)
	if !errors.As(err, &se) || !se.PastNoReturn || len(w.undone) != 0 || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("after the point of no return: %v undone %v", err, w.undone)
	}
}

// A run killed at any journal write (between "started" and "finished" of any step, or
// before one starts) leaves a journal that the next run refuses as dirty, and that
// --resume continues: each step's goal reached exactly once, finished steps not run
// again, the interrupted one run again, and what the finished ones established restored.
func TestEveryJournalWriteFailing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	names := []string{"a", "b", "c"}
	// Appends of a clean run: started+finished per step.
	for failAt := 1; failAt <= 2*len(names); failAt++ {
		t.Run(fmt.Sprintf("write %d", failAt), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.journal")
			w := newWorld()
			r := &Runner{Runbook: "t", Journal: openJournal(t, path, failAt), State: read(t, path)}
			done, err := r.Run(ctx, w.steps(names...))
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("the failed write must stop the run: %v", err)
			}
			stopped := (failAt - 1) / 2 // the step whose write failed
			if len(done) != stopped {
				t.Errorf("done %v, want the %d steps before", done, stopped)
			}
			st := read(t, path)
			if failAt%2 == 0 { // its "finished" failed: it ran, the journal shows it started
				if st.Dirty != names[stopped] {
					t.Errorf("dirty %q, want %q", st.Dirty, names[stopped])
				}
				again := &Runner{Runbook: "t", Journal: openJournal(t, path, 0), State: st}
				var de *DirtyError
				if _, err := again.Run(ctx, w.steps(names...)); !errors.As(err, &de) || de.Step != names[stopped] {
					t.Errorf("a dirty journal without --resume: %v", err)
				}
			}
			w.applied = nil
			resume := &Runner{Runbook: "t", Journal: openJournal(t, path, 0), State: read(t, path), Resume: true}
			if _, err := resume.Run(ctx, w.steps(names...)); err != nil {
				t.Fatalf("resume: %v", err)
			}
			for _, n := range names {
				if !w.facts[n] {
					t.Errorf("after resume %s's goal does not hold", n)
				}
			}
			if want := names[stopped:]; !slices.Equal(w.applied, want) {
				t.Errorf("resume applied %v, want %v (finished steps are not run again)", w.applied, want)
			}
			if !slices.Equal(w.resumed, names[:stopped]) {
				t.Errorf("resumed %v, want %v", w.resumed, names[:stopped])
			}
			if st := read(t, path); st.Dirty != "" || len(st.Done) != len(names) {
				t.Errorf("journal after resume: %+v", st)
			}
		})
	}
}

// Skipped steps are reported and not run; an ended context stops before the next step.
func TestSkipAndContext(t *testing.T) {
	t.Parallel()
	w := newWorld()
	steps := w.steps("a", "b", "c")
	steps[1].Skip = "--skip-phases"
	var events []string
	r := &Runner{Runbook: "t", Journal: openJournal(t, filepath.Join(t.TempDir(), "j"), 0), Events: func(e Event) { events = append(events, e.Step+":"+e.Kind) }}
	if _, err := r.Run(context.Background(), steps); err != nil || !slices.Equal(w.applied, []string{"a", "c"}) {
		t.Fatalf("skip: %v %v", err, w.applied)
	}
	if strings.Join(events, " ") != "a:done b:skipped c:done" {
		t.Errorf("events: %v", events)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = newWorld()
	r = &Runner{Runbook: "t", Journal: openJournal(t, filepath.Join(t.TempDir(), "j"), 0)}
	if _, err := r.Run(ctx, w.steps("a")); !errors.Is(err, context.Canceled) || len(w.applied) != 0 {
		t.Errorf("an ended context: %v %v", err, w.applied)
	}
}

// A step killed half-way (ErrKilled) leaves the journal as a kill would: started, not
// finished, nothing undone; the failure's text reaches the journal redacted.
func TestKilledAndRedacted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	w := newWorld()
	steps := w.steps("a", "b")
	steps[1].Apply = func(context.Context) (Result, error) { return Result{Changes: 1}, fmt.Errorf("hook: %w", ErrKilled) }
	r := &Runner{Runbook: "t", Journal: openJournal(t, path, 0), Undo: true}
	if _, err := r.Run(context.Background(), steps); !errors.Is(err, ErrKilled) || len(w.undone) != 0 {
		t.Fatalf("killed: %v undone %v", err, w.undone)
	}
	if st := read(t, path); st.Dirty != "b" || !st.Done["a"] {
		t.Errorf("journal after a kill: %+v", st)
	}
	steps = w.steps("c")
	steps[0].Apply = func(context.Context) (Result, error) {
		return Result{}, errors.New("connect postgres://u:secret@h/db: refused")
	}
	path2 := filepath.Join(t.TempDir(), "k")
	r = &Runner{Runbook: "t", Journal: openJournal(t, path2, 0), Redact: func(s string) string { return strings.ReplaceAll(s, "secret", "xxxxx") }}
	r.Run(context.Background(), steps)
	if st := read(t, path2); !strings.Contains(st.Failed["c"], "xxxxx") || strings.Contains(st.Failed["c"], "secret") {
		t.Errorf("the journal keeps %q", st.Failed["c"])
	}
}

// A point-of-no-return step that refuses before changing anything is undone behind
// like any other; once it changed something, nothing is. After Ctrl-C the undo still
// runs (on its own deadline), and a failed undo journals every later step undone,
// changed or not.
func TestNoReturnUndoAfterCancelAndUndoFailure(t *testing.T) {
	t.Parallel()
	w := newWorld()
	steps := w.steps("a", "route")
	steps[1].NoReturn = true
	steps[1].Apply = func(context.Context) (Result, error) { return Result{}, errors.New("refused: the other side answers") }
	r := &Runner{Runbook: "t", Journal: openJournal(t, filepath.Join(t.TempDir(), "j"), 0), Undo: true}
	_, err := r.Run(context.Background(), steps)
	var se *StepError
	if !errors.As(err, &se) || se.PastNoReturn || !slices.Equal(w.undone, []string{"a"}) {
		t.Fatalf("a refusing route: %v undone %v", err, w.undone)
	}

	w = newWorld()
	ctx, cancel := context.WithCancel(context.Background())
	steps = w.steps("a", "b")
	steps[1].Apply = func(context.Context) (Result, error) {
		cancel() // Ctrl-C during the step
		return Result{}, context.Canceled
	}
	steps[0].Undo = func(ctx context.Context) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.undone = append(w.undone, "a")
		return nil
	}
	r = &Runner{Runbook: "t", Journal: openJournal(t, filepath.Join(t.TempDir(), "j"), 0), Undo: true}
	if _, err := r.Run(ctx, steps); !errors.As(err, &se) || se.UndoErr != nil || !slices.Equal(w.undone, []string{"a"}) {
		t.Fatalf("undo after Ctrl-C: %v %+v undone %v", err, se, w.undone)
	}

	path := filepath.Join(t.TempDir(), "j")
	w = newWorld()
	w.facts["b"] = true // b changes nothing
	w.failUn["c"], w.fail["d"] = true, true
	r = &Runner{Runbook: "t", Journal: openJournal(t, path, 0), Undo: true}
	r.Run(context.Background(), w.steps("a", "b", "c", "d"))
	st := read(t, path)
	if !st.Done["a"] || !st.Done["b"] || st.Done["c"] || st.Done["d"] {
		t.Errorf("after c's undo failed: done %v (a and b stand, c and d run again)", st.Done)
	}
	w = newWorld()
	w.facts["b"] = true
	w.failUn["a"], w.fail["c"] = true, true
	path = filepath.Join(t.TempDir(), "k")
	r = &Runner{Runbook: "t", Journal: openJournal(t, path, 0), Undo: true}
	r.Run(context.Background(), w.steps("a", "b", "c"))
	if st := read(t, path); st.Done["b"] {
		t.Errorf("b ran after a, whose undo failed: it must run again on --resume: done %v", st.Done)
	}
}
