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
	"github.com/xckit/xckit/platform"
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
	stopAfter        int // test hook: stop as if killed after this many steps
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
	Kind       string       `json:"kind"`
	Started    time.Time    `json:"started"`
	Verdict    string       `json:"verdict"` // ok, aborted (and restored), planned
	Steps      []StepResult `json:"steps"`
	RTOSeconds float64      `json:"rto_seconds,omitempty"`
	RPO        string       `json:"rpo,omitempty"`
	FenceLSN   string       `json:"fence_lsn,omitempty"`
	Restored   []string     `json:"restored,omitempty"`
}

type step struct {
	name string
	plan string
	do   func(ctx context.Context, o *op) (string, error)
	undo func(ctx context.Context, o *op) error
	// resumed, when set, restores what the step established in an earlier,
	// interrupted run (--resume skips it).
	resumed func(o *op)
}

// op is one run's state.
type op struct {
	Options
	sw    Switcher
	start time.Time
	fence string
	rep   *Report
	steps int
}

func (o *op) journalPath(kind string) string {
	return filepath.Join(o.Site.New.Prefix, "state", kind+".journal")
}

// execute runs the steps with journal, plan, resume and restore-on-abort.
func execute(ctx context.Context, kind string, opts Options, steps []step) (Report, error) {
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
	o := &op{Options: opts, sw: sw, start: time.Now(), rep: &Report{Kind: kind, Started: time.Now().UTC()}}
	if o.Plan {
		o.rep.Verdict = "planned"
		for i, s := range steps {
			fmt.Fprintf(o.Out, "%2d. %-14s %s\n", i+1, s.name, s.plan)
			o.rep.Steps = append(o.rep.Steps, StepResult{Name: s.name, Status: "planned", Detail: s.plan})
		}
		return *o.rep, nil
	}
	st, err := journal.Read(o.journalPath(kind))
	if err != nil {
		return *o.rep, err
	}
	if st.Dirty != "" && !o.Resume {
		return *o.rep, fmt.Errorf("the last %s stopped during step %s (the journal is dirty): run it again with --resume", kind, st.Dirty)
	}
	j, err := journal.Open(o.journalPath(kind))
	if err != nil {
		return *o.rep, err
	}
	defer j.Close()
	if !o.Resume {
		j.Append(journal.Entry{Step: "*", Event: journal.Reset})
		st = journal.State{Done: map[string]bool{}}
	}
	var done []step
	for i, s := range steps {
		if o.Resume && st.Done[s.name] && st.Dirty != s.name {
			fmt.Fprintf(o.Out, "%2d. %-14s done before (--resume)\n", i+1, s.name)
			o.rep.Steps = append(o.rep.Steps, StepResult{Name: s.name, Status: "skipped", Detail: "done before"})
			if s.resumed != nil {
				s.resumed(o)
			}
			done = append(done, s)
			continue
		}
		j.Append(journal.Entry{Step: s.name, Event: journal.Started})
		t0 := time.Now()
		detail, err := s.do(ctx, o)
		res := StepResult{Name: s.name, Status: "done", Seconds: time.Since(t0).Seconds(), Detail: detail}
		if err != nil {
			res.Status, res.Detail = "failed", dbx.Redact(err.Error())
			j.Append(journal.Entry{Step: s.name, Event: journal.Failed, Error: res.Detail})
			o.rep.Steps = append(o.rep.Steps, res)
			fmt.Fprintf(o.Out, "%2d. %-14s FAILED after %.2fs: %s\n", i+1, s.name, res.Seconds, res.Detail)
			o.restore(ctx, done)
			o.rep.Verdict = "aborted"
			return *o.rep, fmt.Errorf("%s aborted at step %s: %s; %s", kind, s.name, res.Detail, restoredText(o.rep.Restored))
		}
		j.Append(journal.Entry{Step: s.name, Event: journal.Finished, Seconds: res.Seconds})
		o.rep.Steps = append(o.rep.Steps, res)
		fmt.Fprintf(o.Out, "%2d. %-14s done in %5.2fs  %s\n", i+1, s.name, res.Seconds, detail)
		done = append(done, s)
		if o.steps++; o.stopAfter > 0 && o.steps >= o.stopAfter && i < len(steps)-1 {
			j.Append(journal.Entry{Step: steps[i+1].name, Event: journal.Started})
			return *o.rep, errStopped
		}
	}
	o.rep.Verdict = "ok"
	return *o.rep, nil
}

var errStopped = errors.New("stopped by the test hook")

// restore undoes the completed steps that can be undone, newest first.
func (o *op) restore(ctx context.Context, done []step) {
	for i := len(done) - 1; i >= 0; i-- {
		if done[i].undo == nil {
			continue
		}
		if err := done[i].undo(ctx, o); err != nil {
			o.rep.Restored = append(o.rep.Restored, fmt.Sprintf("could NOT undo %s: %v", done[i].name, err))
			continue
		}
		o.rep.Restored = append(o.rep.Restored, "undid "+done[i].name)
	}
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

// waitReady polls a URL until it answers 200.
func waitReady(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s (last: %s)", url, d, last)
}

// smoke sends a signed debit and credit of one fen through the balancer.
func smoke(ctx context.Context, o *op) (string, error) {
	s := o.Site.Smoke
	c := &platform.Client{BaseURL: strings.TrimRight(o.Site.Switch.Probe, "/"), Merchant: s.Merchant, Key: s.Key, HTTP: &http.Client{Timeout: 10 * time.Second}}
	id := fmt.Sprintf("xckit-%s-smoke-%d", o.rep.Kind, time.Now().UnixNano())
	for _, typ := range []string{platform.Debit, platform.Credit} {
		r, err := c.Pay(ctx, platform.PaymentRequest{ReqID: id + "-" + typ, Type: typ, AgreementID: s.Agreement, Amount: 1, Currency: "CNY", Channel: s.Channel})
		if err != nil {
			return "", fmt.Errorf("smoke %s through the balancer: %w", typ, err)
		}
		if r.Status != 200 {
			return "", fmt.Errorf("smoke %s through the balancer: HTTP %d %s", typ, r.Status, r.Body)
		}
	}
	return "debit and credit of 1 fen through the balancer: 200", nil
}

func openDB(ctx context.Context, dsn, what string) (*dbx.DB, error) {
	db, err := dbx.Open(ctx, dsn, dbx.Options{AppName: "xckit-cutover", ConnectTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return db, nil
}
