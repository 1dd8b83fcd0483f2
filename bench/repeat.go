package bench

import (
	"fmt"
	"slices"
)

// RepeatLimit is the certification rule for repeated pressure tests: each resource
// figure may vary by at most this many percent between the runs of a case.
const RepeatLimit = 5.0

// Spread is how much one resource figure of a case varied between repeated runs:
// (max - min) / mean, in percent.
type Spread struct {
	Case      string    `json:"case"`
	Metric    string    `json:"metric"`
	Values    []float64 `json:"values"`
	Mean      float64   `json:"mean"`
	Variation float64   `json:"variation_pct"`
	Judged    bool      `json:"judged"`
	Pass      bool      `json:"pass"`
	Note      string    `json:"note,omitempty"`
}

// spreadMetrics are the figures the certification compares, with the level below
// which a figure is noise rather than load (its variation is shown, not judged).
var spreadMetrics = []struct {
	name  string
	unit  string
	floor float64
	get   func(*Resources) (float64, bool)
}{
	{"platform CPU", "%", 1, func(r *Resources) (float64, bool) { return r.Avg.PlatformCPU, r.PlatformSampled }},
	{"platform memory", "%", 0, func(r *Resources) (float64, bool) { return r.Avg.PlatformMem, r.PlatformSampled }},
	{"platform host CPU", "%", 1, func(r *Resources) (float64, bool) { return r.Avg.PlatformHostCPU, r.PlatformSampled }},
	{"host CPU", "%", 1, func(r *Resources) (float64, bool) { return r.Avg.HostCPU, true }},
	{"host memory", "%", 0, func(r *Resources) (float64, bool) { return r.Avg.HostMem, true }},
	{"disk", "B/s", 64 << 10, func(r *Resources) (float64, bool) { return r.Avg.DiskRead + r.Avg.DiskWrite, true }},
	{"network", "B/s", 64 << 10, func(r *Resources) (float64, bool) { return r.Avg.NetRecv + r.Avg.NetSent, true }},
}

// Spreads compares the resource figures of the runs of one case.
func Spreads(caseName string, runs []*Summary) []Spread {
	var out []Spread
	for _, m := range spreadMetrics {
		sp := Spread{Case: caseName, Metric: m.name}
		complete := len(runs) > 1
		for _, r := range runs {
			if r == nil || r.Resources == nil {
				complete = false
				continue
			}
			v, ok := m.get(r.Resources)
			if !ok {
				complete = false
				continue
			}
			sp.Values = append(sp.Values, v)
		}
		if len(sp.Values) == 0 {
			continue
		}
		for _, v := range sp.Values {
			sp.Mean += v
		}
		sp.Mean /= float64(len(sp.Values))
		if sp.Mean > 0 {
			sp.Variation = 100 * (slices.Max(sp.Values) - slices.Min(sp.Values)) / sp.Mean
		}
		switch {
		case !complete:
			sp.Note = "not measured in every run"
			sp.Judged = true // a certification needs the figure from every run
		case sp.Mean < m.floor:
			sp.Note = fmt.Sprintf("negligible (mean below %g %s): shown, not judged", m.floor, m.unit)
			sp.Pass = true
		default:
			sp.Judged = true
			sp.Pass = sp.Variation <= RepeatLimit
		}
		out = append(out, sp)
	}
	return out
}
