package bench

import "testing"

func TestSpreads(t *testing.T) {
	t.Parallel()
	run := func(platCPU, hostCPU, disk float64, sampled bool) *Summary {
		return &Summary{Resources: &Resources{PlatformSampled: sampled, Avg: ResourceSample{PlatformCPU: platCPU, PlatformMem: 2,
			HostCPU: hostCPU, HostMem: 40, DiskWrite: disk, NetRecv: 1 << 20, NetSent: 1 << 20}}}
	}
	cases := []struct {
		name   string
		runs   []*Summary
		metric string
		judged bool
		pass   bool
	}{
		{"steady CPU passes", []*Summary{run(8, 30, 1<<20, true), run(8.2, 30, 1<<20, true), run(8.1, 30, 1<<20, true)}, "platform CPU", true, true},
		{"CPU 10% apart fails", []*Summary{run(8, 30, 1<<20, true), run(8.8, 30, 1<<20, true), run(8.4, 30, 1<<20, true)}, "platform CPU", true, false},
		{"exactly 5% passes", []*Summary{run(9.75, 30, 1<<20, true), run(10.25, 30, 1<<20, true)}, "platform CPU", true, true},
		{"noise-level disk is shown, not judged", []*Summary{run(8, 30, 1000, true), run(8, 30, 3000, true)}, "disk", false, true},
		{"disk under load is judged", []*Summary{run(8, 30, 1<<20, true), run(8, 30, 2<<20, true)}, "disk", true, false},
		{"a run without platform figures fails", []*Summary{run(8, 30, 1<<20, true), run(0, 30, 1<<20, false)}, "platform CPU", true, false},
		{"one run cannot show a spread", []*Summary{run(8, 30, 1<<20, true)}, "host CPU", true, false},
	}
	for _, tc := range cases {
		var got *Spread
		sps := Spreads("debit", tc.runs)
		for i := range sps {
			if sps[i].Metric == tc.metric {
				got = &sps[i]
			}
		}
		if got == nil || got.Judged != tc.judged || got.Pass != tc.pass {
			t.Errorf("%s: %+v, want judged %v pass %v", tc.name, got, tc.judged, tc.pass)
		}
	}
}
