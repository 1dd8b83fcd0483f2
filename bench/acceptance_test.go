package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/profiles"
)

// TestAcceptanceRunsJudgesAndRepeats runs two cases twice against a local server: four
// judged runs numbered 1 and 2, the rate scaled by the generator's share, the spreads
// of the resource figures judged, and a case that breaks its limit failing the whole.
func TestAcceptanceRunsJudgesAndRepeats(t *testing.T) {
	srv := stallServer(t, time.Hour, 0) // 1 ms per request, no stall
	ok := profiles.Case{Name: "fast", Scenario: "http", TPS: 100, Duration: profiles.Duration(time.Second), MinSuccess: 100,
		MaxAvgLatency: profiles.Duration(time.Second)}
	strict := ok
	strict.Name, strict.MaxAvgLatency = "strict", profiles.Duration(time.Microsecond)
	var made []string
	var labels strings.Builder
	res, err := Acceptance(context.Background(), AcceptanceOptions{Cases: []profiles.Case{ok, strict}, Repeat: 2, Share: 0.5, Log: &labels,
		Resources: &SamplerOptions{Interval: 200 * time.Millisecond},
		Workload: func(c profiles.Case, run int) (Workload, error) {
			made = append(made, c.Name)
			return httpWorkload{url: srv.URL}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 4 || res.Runs[0].Run != 1 || res.Runs[3].Run != 2 || strings.Join(made, ",") != "fast,strict,fast,strict" {
		t.Fatalf("runs %+v, workloads made for %v", res.Runs, made)
	}
	if s := res.Runs[0].Summary; s.TargetRate != 50 || s.Achieved < 49 {
		t.Errorf("share 0.5 of 100 TPS: target %.1f, achieved %.1f", s.TargetRate, s.Achieved)
	}
	if !res.Runs[0].Verdict.Pass || res.Runs[1].Verdict.Pass || res.Pass {
		t.Errorf("verdicts: fast %v, strict %v, all %v", res.Runs[0].Verdict, res.Runs[1].Verdict, res.Pass)
	}
	if len(res.Spreads) == 0 || res.Spreads[0].Case != "fast" || len(res.Spreads[0].Values) != 2 {
		t.Errorf("spreads: %+v", res.Spreads)
	}
	if !strings.Contains(labels.String(), "case strict (run 2 of 2): http at 100 TPS for 1s") {
		t.Errorf("log: %s", labels.String())
	}
}
