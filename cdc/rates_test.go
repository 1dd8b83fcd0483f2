package cdc_test

import (
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
)

func TestStatusRates(t *testing.T) {
	st := func(src, caught string, lag int64) cdc.Status {
		return cdc.Status{SourceLSN: src, AppliedLSN: caught, CaughtUpLSN: caught, LagBytes: lag}
	}
	for _, c := range []struct {
		name          string
		prev, cur     cdc.Status
		apply, source float64 // -1: no rate
		eta           float64 // -1: no estimate
	}{
		// 0/1000 → 0/3000 applied in 2 s while the source went 0/4000 → 0/5000:
		// 0x2000 bytes behind, closing at 0x1000 - 0x800 bytes/s.
		{"catching up", st("0/4000", "0/1000", 0x3000), st("0/5000", "0/3000", 0x2000), 0x1000, 0x800, 0x2000 / float64(0x800)},
		{"caught up", st("0/4000", "0/4000", 0), st("0/5000", "0/5000", 0), 0x800, 0x800, 0},
		{"falling behind", st("0/4000", "0/1000", 0x3000), st("0/8000", "0/2000", 0x6000), 0x800, 0x2000, -1},
		{"position went back (another slot)", st("0/4000", "0/3000", 0x1000), st("0/5000", "0/1000", 0x4000), -1, -1, -1},
		{"no position", st("", "", 0), st("0/5000", "0/1000", 0x4000), -1, -1, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := c.cur
			cur.Since(c.prev, 2*time.Second)
			val := func(p *float64) float64 {
				if p == nil {
					return -1
				}
				return *p
			}
			if val(cur.ApplyBytesPerS) != c.apply || val(cur.SourceBytesPerS) != c.source || val(cur.CatchUpSeconds) != c.eta {
				t.Errorf("apply %v source %v eta %v; want %v %v %v", val(cur.ApplyBytesPerS), val(cur.SourceBytesPerS), val(cur.CatchUpSeconds), c.apply, c.source, c.eta)
			}
		})
	}
}
