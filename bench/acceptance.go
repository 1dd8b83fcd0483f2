package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xckit/xckit/profiles"
)

// AcceptanceOptions drive a profile's acceptance cases.
type AcceptanceOptions struct {
	Cases  []profiles.Case
	Repeat int     // each case this many times (certification: 3); default 1
	Scale  float64 // multiplies each case's duration and warm-up; default 1
	Share  float64 // this generator's share of each case's rate; default 1
	// Workload makes the workload of a case's scenario for one run.
	Workload  func(c profiles.Case, run int) (Workload, error)
	Resources *SamplerOptions
	// Progress, when set, gives each run a progress callback and its end.
	Progress func(label string) (show func(Progress), done func())
	Log      io.Writer // one line as each case starts; nil: none
}

// CaseRun is one run of one case, judged.
type CaseRun struct {
	Case    profiles.Case
	Run     int // 1..Repeat when Repeat > 1, else 0
	Summary *Summary
	Verdict Verdict
}

// AcceptanceResult is every run, the variation between runs, and the verdict.
type AcceptanceResult struct {
	Runs    []CaseRun
	Spreads []Spread // Repeat > 1 only
	Pass    bool
}

// Acceptance runs every case in order (Repeat times over), judges each run against
// its case (the rate scaled by Share: this generator's part) and, when repeated, the
// variation of the resource figures between runs.
func Acceptance(ctx context.Context, o AcceptanceOptions) (AcceptanceResult, error) {
	if o.Repeat < 1 {
		o.Repeat = 1
	}
	if o.Scale <= 0 {
		o.Scale = 1
	}
	if o.Share <= 0 {
		o.Share = 1
	}
	res := AcceptanceResult{Pass: true}
	byCase := map[string][]*Summary{}
	for run := 1; run <= o.Repeat; run++ {
		for _, cs := range o.Cases {
			w, err := o.Workload(cs, run)
			if err != nil {
				return res, fmt.Errorf("case %s: %w", cs.Name, err)
			}
			label := cs.Name
			if o.Repeat > 1 {
				label = fmt.Sprintf("%s (run %d of %d)", cs.Name, run, o.Repeat)
			}
			dur, warm := time.Duration(float64(cs.Duration.D())*o.Scale), time.Duration(float64(cs.Warmup.D())*o.Scale)
			if o.Log != nil {
				fmt.Fprintf(o.Log, "case %s: %s at %s TPS for %s (+%s warm-up)\n", label, cs.Scenario, cs.TPS,
					dur.Round(time.Second), warm.Round(time.Second))
			}
			ro := Options{Rate: float64(cs.TPS) * o.Share, Duration: dur, Warmup: warm, Resources: o.Resources}
			done := func() {}
			if o.Progress != nil {
				ro.Progress, done = o.Progress(cs.Name)
			}
			s, err := Run(ctx, w, ro)
			done()
			if err != nil {
				return res, fmt.Errorf("case %s: %w", label, err)
			}
			judged := cs
			judged.TPS = profiles.Rate(float64(cs.TPS) * o.Share)
			cr := CaseRun{Case: cs, Summary: s, Verdict: Judge(judged, s)}
			if o.Repeat > 1 {
				cr.Run = run
			}
			res.Pass = res.Pass && cr.Verdict.Pass
			res.Runs = append(res.Runs, cr)
			byCase[cs.Name] = append(byCase[cs.Name], s)
		}
	}
	if o.Repeat > 1 {
		for _, cs := range o.Cases {
			for _, sp := range Spreads(cs.Name, byCase[cs.Name]) {
				res.Spreads = append(res.Spreads, sp)
				res.Pass = res.Pass && (!sp.Judged || sp.Pass)
			}
		}
	}
	return res, nil
}
