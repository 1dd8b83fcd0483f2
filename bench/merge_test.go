package bench

import (
	"math"
	"testing"
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
	m, err := Merge([]*Summary{pa, pb})
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
	if _, err := Merge([]*Summary{{Ops: 1}}); err == nil {
		t.Error("a part without histograms cannot merge exactly")
	}
}
