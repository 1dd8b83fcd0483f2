package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/profiles"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	c := profiles.Case{Name: "debit", TPS: 500, MaxAvgLatency: profiles.Duration(45 * time.Millisecond),
		MaxP99Latency: profiles.Duration(200 * time.Millisecond), MinSuccess: 100}
	good := Summary{Ops: 1000, OK: 1000, Achieved: 500, Success: 100, Latency: Dist{Count: 1000, Avg: 3, P99: 10}, Platform: Dist{Count: 1000, Avg: 1, P99: 5}}
	cases := []struct {
		name   string
		change func(*Summary)
		reason string
	}{
		{"passes", func(*Summary) {}, ""},
		{"rate within 1%", func(s *Summary) { s.Achieved = 495.5 }, ""},
		{"rate short", func(s *Summary) { s.Achieved = 490 }, "achieved 490.0 TPS"},
		{"average over (platform time)", func(s *Summary) { s.Platform.Avg = 46 }, "platform time average 46.00 ms"},
		{"client latency ignored when platform time exists", func(s *Summary) { s.Latency.Avg = 100 }, ""},
		{"latency used without platform time", func(s *Summary) { s.Platform = Dist{}; s.Latency.Avg = 50 }, "latency average 50.00 ms"},
		{"p99 over", func(s *Summary) { s.Platform.P99 = 250 }, "p99 250.00 ms"},
		{"one failure", func(s *Summary) { s.Success = 99.9 }, "success 99.900%"},
		{"nothing measured", func(s *Summary) { s.Ops = 0 }, "no operations"},
	}
	for _, tc := range cases {
		s := good
		tc.change(&s)
		v := Judge(c, &s)
		if tc.reason == "" && !v.Pass {
			t.Errorf("%s: failed: %v", tc.name, v.Reasons)
		}
		if tc.reason != "" && (v.Pass || !strings.Contains(strings.Join(v.Reasons, "; "), tc.reason)) {
			t.Errorf("%s: %+v, want a reason containing %q", tc.name, v, tc.reason)
		}
	}
}
