package bench

import (
	"fmt"
	"time"

	"github.com/xckit/xckit/profiles"
)

// Verdict is a case judged against its profile limits.
type Verdict struct {
	Pass    bool     `json:"pass"`
	Reasons []string `json:"reasons,omitempty"` // why it failed, one line per limit broken
}

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
	return Verdict{Pass: len(reasons) == 0, Reasons: reasons}
}
