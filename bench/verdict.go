package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/profiles"
)

// Verdict is a case judged against its profile limits.
type Verdict struct {
	Pass     bool     `json:"pass"`
	Reasons  []string `json:"reasons,omitempty"`  // why it failed, one line per limit broken
	Warnings []string `json:"warnings,omitempty"` // what makes the figures less trustworthy
}

// OtherCPUWarn is the share of this host's CPU used by processes other than the
// generator and the system under test above which a verdict carries a warning.
const OtherCPUWarn = 5.0

// Judge holds a run against an acceptance case: the achieved rate within 1% of the
// target, the latency limits (the platform's own time when the target reports it, as
// the reference case quotes "platform internal time"), and the success rate.
func Judge(c profiles.Case, s *Summary) Verdict {
	var reasons []string
	if s == nil || s.Ops == 0 {
		return Verdict{Reasons: []string{"no operations were measured"}}
	}
	if float64(s.Achieved) < 0.99*float64(c.TPS) {
		reasons = append(reasons, fmt.Sprintf("achieved %.1f TPS, below 99%% of the target %.0f TPS", s.Achieved, float64(c.TPS)))
	}
	lat, which := s.Latency, "latency"
	if s.Platform.Count > 0 {
		lat, which = s.Platform, "platform time"
	}
	ms := func(d profiles.Duration) float64 { return float64(time.Duration(d)) / float64(time.Millisecond) }
	for _, l := range []struct {
		name  string
		limit profiles.Duration
		got   float64
	}{{"average", c.MaxAvgLatency, lat.Avg}, {"p95", c.MaxP95Latency, lat.P95}, {"p99", c.MaxP99Latency, lat.P99}} {
		if l.limit > 0 && l.got > ms(l.limit) {
			reasons = append(reasons, fmt.Sprintf("%s %s %.2f ms, above the limit %s", which, l.name, l.got, l.limit))
		}
	}
	if s.Success < float64(c.MinSuccess) {
		reasons = append(reasons, fmt.Sprintf("success %.3f%%, below %s", s.Success, c.MinSuccess))
	}
	r := s.Resources
	for _, l := range []struct {
		name  string
		limit profiles.Percent
		got   func() float64
	}{{"CPU", c.MaxCPU, func() float64 { return r.Avg.PlatformCPU }}, {"memory", c.MaxMemory, func() float64 { return r.Avg.PlatformMem }}} {
		switch {
		case l.limit <= 0:
		case r == nil || !r.PlatformSampled:
			why := "the run did not sample it"
			if r != nil && r.PlatformError != "" {
				why = r.PlatformError
			}
			reasons = append(reasons, fmt.Sprintf("platform %s limit %s cannot be judged: %s (point --metrics at the platform's /metrics)", l.name, l.limit, why))
		case l.got() > float64(l.limit):
			reasons = append(reasons, fmt.Sprintf("platform %s average %.2f%% of its host, above the limit %s", l.name, l.got(), l.limit))
		}
	}
	var warnings []string
	if r != nil && len(r.Generators) > 0 {
		for _, g := range r.Generators {
			if g.OtherCPU > OtherCPUWarn {
				warnings = append(warnings, otherLoadWarning(g.Host+": other processes", g.OtherCPU, g.Others))
			}
		}
	} else if r != nil && r.OtherCPU > OtherCPUWarn {
		warnings = append(warnings, otherLoadWarning("other processes", r.OtherCPU, r.Processes))
	}
	if s.Unstarted > 0 {
		warnings = append(warnings, fmt.Sprintf("%d operations could not be started before the run ended: the generator or the system fell behind", s.Unstarted))
	}
	return Verdict{Pass: len(reasons) == 0, Reasons: reasons, Warnings: warnings}
}

func otherLoadWarning(who string, cpu float64, procs []ProcessCPU) string {
	var top []string
	for _, p := range procs {
		if p.Role == "other" && len(top) < 3 {
			top = append(top, fmt.Sprintf("%s %.1f%%", p.Name, p.CPU))
		}
	}
	return fmt.Sprintf("%s used %.1f%% of this host's CPU during the run (%s): the figures may be pessimistic", who, cpu, strings.Join(top, ", "))
}
