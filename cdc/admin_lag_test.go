package cdc

import (
	"testing"
	"time"
)

func TestLagSeconds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	ago := func(s float64) time.Time { return now.Add(-time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name string
		cp   Checkpoint
		want float64
	}{
		{"idle and caught up a moment ago", Checkpoint{SeenAt: ago(0.5), CommitTime: ago(3600)}, 0.5},
		{"busy: the pipeline never idles, commits apply", Checkpoint{SeenAt: ago(10), CommitTime: ago(0.2)}, 0.2},
		{"stuck: nothing applied for a minute", Checkpoint{SeenAt: ago(60), CommitTime: ago(65)}, 60},
		{"nothing known yet", Checkpoint{}, 0},
		{"source clock ahead of ours", Checkpoint{CommitTime: now.Add(time.Second)}, 0},
	}
	for _, tc := range cases {
		if got := lagSeconds(tc.cp, now); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s: %.3f s, want %.3f s", tc.name, got, tc.want)
		}
	}
}
