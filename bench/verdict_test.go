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
		MaxP99Latency: profiles.Duration(200 * time.Millisecond), MinSuccess: 100, MaxCPU: 10, MaxMemory: 10}
	res := func(cpu, mem float64) *Resources {
		return &Resources{PlatformSampled: true, Avg: ResourceSample{PlatformCPU: cpu, PlatformMem: mem}}
	}
	good := Summary{Ops: 1000, OK: 1000, Achieved: 500, Success: 100, Latency: Dist{Count: 1000, Avg: 3, P99: 10}, Platform: Dist{Count: 1000, Avg: 1, P99: 5},
		Resources: res(5, 2)}
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
		{"platform CPU within", func(s *Summary) { s.Resources = res(9.9, 3) }, ""},
		{"platform CPU over", func(s *Summary) { s.Resources = res(10.5, 3) }, "platform CPU average 10.50% of its host, above the limit 10%"},
		{"platform memory over", func(s *Summary) { s.Resources = res(2, 12) }, "platform memory average 12.00%"},
		{"resources not sampled", func(s *Summary) { s.Resources = nil }, "platform CPU limit 10% cannot be judged: the run did not sample it"},
		{"metrics unreadable", func(s *Summary) { s.Resources = &Resources{PlatformError: "no payd_host_cpus"} }, "cannot be judged: no payd_host_cpus"},
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

func TestJudgeWarnsOfOtherLoad(t *testing.T) {
	t.Parallel()
	c := profiles.Case{Name: "debit", TPS: 100, MinSuccess: 100}
	s := Summary{Ops: 100, OK: 100, Achieved: 100, Success: 100, Resources: &Resources{OtherCPU: 23.5,
		Processes: []ProcessCPU{{Name: "payd", Role: "system", CPU: 30}, {Name: "mariadbd", Role: "other", CPU: 20}, {Name: "cc1", Role: "other", CPU: 3.5}}}}
	v := Judge(c, &s)
	if !v.Pass || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "23.5% of this host's CPU during the run (mariadbd 20.0%, cc1 3.5%)") {
		t.Fatalf("%+v", v)
	}
	s.Resources.OtherCPU = OtherCPUWarn - 1
	if v := Judge(c, &s); len(v.Warnings) != 0 {
		t.Fatalf("quiet host warned: %v", v.Warnings)
	}
}
