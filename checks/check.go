package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
)

// Status is a check's verdict.
type Status string

const (
	Pass  Status = "pass"
	Warn  Status = "warn"
	Fail  Status = "fail"
	Error Status = "error" // could not run: the check says why
	Skip  Status = "skip"
)

// Result is what a check found.
type Result struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   Status `json:"status"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Remedy   string `json:"remedy,omitempty"`
	Ignored  bool   `json:"ignored,omitempty"` // a failure turned into a warning by --ignore
	Fix      *Fix   `json:"fix,omitempty"`
}

// Fix is an automatic remedy for a failed host check.
type Fix struct {
	Kind  string `json:"kind"` // sysctl, limits, thp
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Target is what the checks look at.
type Target struct {
	Root    string // host root, "/" on a live host
	Profile *profiles.Profile
	DB      *dbx.DB // openGauss; nil when not in scope
	DBErr   error   // why DB is nil, when it was asked for
	Legacy  *dbx.DB
	LegErr  error
	CDCUser string // the user whose rights db.cdc_user checks (default: the DSN's)
	CDCSlot string // the slot db.cluster.slots looks for on every node (default DefaultCDCSlot)
}

// Check is one preflight item.
type Check interface {
	ID() string
	Run(ctx context.Context, t *Target) Result
}

// check is a Check made of a function.
type check struct {
	id, title string
	run       func(ctx context.Context, t *Target) Result
}

func (c check) ID() string { return c.id }

func (c check) Run(ctx context.Context, t *Target) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Error, Actual: fmt.Sprintf("the check failed to run: %v", p)}
		}
		r.ID, r.Title = c.id, c.title
	}()
	return c.run(ctx, t)
}

// Report is the outcome of a run.
type Report struct {
	Schema  int            `json:"schema"`
	Profile string         `json:"profile"`
	Host    Fingerprint    `json:"host"`
	Started time.Time      `json:"started"`
	Seconds float64        `json:"seconds"`
	Checks  []Result       `json:"checks"`
	Summary map[Status]int `json:"summary"`
}

// Failed lists the IDs of failed checks (ignored ones are warnings).
func (r Report) Failed() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Run runs the checks in order; ignore turns the named failures into warnings.
func Run(ctx context.Context, list []Check, t *Target, ignore []string) Report {
	rep := Report{Schema: 1, Started: time.Now().UTC(), Summary: map[Status]int{}}
	if t.Profile != nil {
		rep.Profile = t.Profile.Name
	}
	rep.Host = fingerprint(ctx, t.Root)
	ign := map[string]bool{}
	for _, id := range ignore {
		ign[strings.TrimSpace(id)] = true
	}
	for _, c := range list {
		r := c.Run(ctx, t)
		if r.Status == Fail && ign[r.ID] {
			r.Status, r.Ignored = Warn, true
		}
		rep.Checks = append(rep.Checks, r)
		rep.Summary[r.Status]++
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep
}

// Scopes are the groups of checks.
var Scopes = []string{"host", "db", "legacy"}

// ForProfile builds the list of checks for the scopes, in a stable order.
func ForProfile(p *profiles.Profile, scopes []string) ([]Check, error) {
	var list []Check
	for _, s := range scopes {
		switch s {
		case "host":
			list = append(list, hostChecks(p)...)
		case "db":
			list = append(list, dbChecks(p)...)
		case "legacy":
			list = append(list, legacyChecks(p)...)
		default:
			return nil, fmt.Errorf("unknown scope %q: use %s", s, strings.Join(Scopes, ", "))
		}
	}
	return list, nil
}

// IDs lists the IDs of a check list (for --ignore validation).
func IDs(list []Check) []string {
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID()
	}
	sort.Strings(ids)
	return ids
}

func pass(expected, actual string) Result {
	return Result{Status: Pass, Expected: expected, Actual: actual}
}

func failed(expected, actual, remedy string) Result {
	return Result{Status: Fail, Expected: expected, Actual: actual, Remedy: remedy}
}

func warn(expected, actual, remedy string) Result {
	return Result{Status: Warn, Expected: expected, Actual: actual, Remedy: remedy}
}

func couldNot(expected string, err error, remedy string) Result {
	return Result{Status: Error, Expected: expected, Actual: "could not run: " + dbx.Redact(err.Error()), Remedy: remedy}
}

func skip(why string) Result { return Result{Status: Skip, Actual: why} }
