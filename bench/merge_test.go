package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/xckit/xckit/profiles"
)

// TestMergeIsExact: two generators' halves merged give the same percentiles as one
// histogram of everything.
func TestMergeIsExact(t *testing.T) {
	t.Parallel()
	a, b, all := newHist(), newHist(), newHist()
	for i := int64(1); i <= 10000; i++ {
		v := i * 37 % 5000
		if i%2 == 0 {
			a.RecordValue(v + 1)
		} else {
			b.RecordValue(v + 1)
		}
		all.RecordValue(v + 1)
	}
	pa := &Summary{Ops: 5000, OK: 5000, Achieved: 250, TargetRate: 250, LatencyHDR: encodeHist(a)}
	pb := &Summary{Ops: 5000, OK: 4990, Failed: 10, Achieved: 249.5, TargetRate: 250, LatencyHDR: encodeHist(b), Errors: map[string]int64{"timeout": 10}}
	m, err := Merge([]*Summary{pa, pb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := dist(all)
	if m.Latency.P99 != want.P99 || m.Latency.P50 != want.P50 || math.Abs(m.Latency.Avg-want.Avg) > 1e-9 {
		t.Errorf("merged %+v, want %+v", m.Latency, want)
	}
	if m.Achieved != 499.5 || m.TargetRate != 500 || m.Errors["timeout"] != 10 || m.Success != 99.9 {
		t.Errorf("merged counts: %+v", m)
	}
	if _, err := Merge([]*Summary{{Ops: 1}}, nil); err == nil {
		t.Error("a part without histograms cannot merge exactly")
	}
}

// TestMergeKeepsEachGeneratorsLoad: the platform's figures come from one part, and
// each generator host's own load stays visible and is warned about by name.
func TestMergeKeepsEachGeneratorsLoad(t *testing.T) {
	t.Parallel()
	h := newHist()
	h.RecordValue(1000)
	part := func(other float64, sampled bool) *Summary {
		return &Summary{Ops: 1, OK: 1, Success: 100, LatencyHDR: encodeHist(h), Resources: &Resources{PlatformSampled: sampled, OtherCPU: other,
			Avg:       ResourceSample{HostCPU: 30, GeneratorCPU: 10, PlatformCPU: 7},
			Processes: []ProcessCPU{{Name: "xckit", Role: "generator", CPU: 10}, {Name: "backup", Role: "other", CPU: other}}}}
	}
	m, err := Merge([]*Summary{part(1, true), part(12, true)}, []string{"bench-01", "bench-02"})
	if err != nil {
		t.Fatal(err)
	}
	g := m.Resources.Generators
	if len(g) != 2 || g[0].Host != "bench-01" || g[1].OtherCPU != 12 || len(g[1].Others) != 1 || g[1].Others[0].Name != "backup" {
		t.Fatalf("generators: %+v", g)
	}
	if m.Resources.Avg.PlatformCPU != 7 || !m.Resources.PlatformSampled {
		t.Errorf("platform figures lost: %+v", m.Resources.Avg)
	}
	v := Judge(profilesCase(), m)
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "bench-02: other processes used 12.0%") || !strings.Contains(v.Warnings[0], "backup 12.0%") {
		t.Errorf("warnings: %v", v.Warnings)
	}
}

func profilesCase() profiles.Case { return profiles.Case{Name: "debit", TPS: 1, MinSuccess: 100} }
