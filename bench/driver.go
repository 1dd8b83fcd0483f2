package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Op is one operation; it must honour ctx.
type Op func(ctx context.Context) Result

// Workload produces operations for a worker.
type Workload interface {
	Next(ctx context.Context, worker int) Op
}

// Options drive a run. Rate > 0 is an open loop at that many operations per second;
// otherwise Concurrency workers run a closed loop.
type Options struct {
	Rate        float64
	Concurrency int           // closed loop: workers; open loop: most operations in flight (default 4 x rate x 0.1s, at least 64)
	Duration    time.Duration // steady state, after Warmup
	Warmup      time.Duration
	Timeout     time.Duration // per operation, default 10s
	// LateAfter marks an open-loop operation late when it starts this long after its
	// intended time (default 10ms): the generator or the system fell behind.
	LateAfter time.Duration
}

// Summary is the outcome of a run's steady-state window.
type Summary struct {
	Mode        string           `json:"mode"` // open or closed
	TargetRate  float64          `json:"target_rate,omitempty"`
	Concurrency int              `json:"concurrency"`
	Duration    float64          `json:"duration_s"`
	Warmup      float64          `json:"warmup_s"`
	Ops         int64            `json:"ops"`
	OK          int64            `json:"ok"`
	Failed      int64            `json:"failed"`
	Achieved    float64          `json:"achieved_tps"` // successful operations per second
	Success     float64          `json:"success_pct"`
	Late        int64            `json:"late"` // open loop: started more than LateAfter behind schedule
	Unstarted   int64            `json:"unstarted"`
	Errors      map[string]int64 `json:"errors,omitempty"`
	Latency     Dist             `json:"latency"`  // from intended start (open) or start (closed)
	Service     Dist             `json:"service"`  // from actual start
	Platform    Dist             `json:"platform"` // the system's own time, when it reports one
	Seconds     []Second         `json:"seconds"`
	// The steady-state histograms, HdrHistogram's compressed encoding, so that runs
	// from several generator hosts merge exactly (xckit bench merge).
	LatencyHDR  string `json:"latency_hdr,omitempty"`
	PlatformHDR string `json:"platform_hdr,omitempty"`
}

// Run drives w with o and returns the steady-state summary.
func Run(ctx context.Context, w Workload, o Options) (*Summary, error) {
	if o.Duration <= 0 {
		return nil, errors.New("bench: duration must be positive")
	}
	if o.Rate < 0 || (o.Rate == 0 && o.Concurrency <= 0) {
		return nil, errors.New("bench: give a rate (open loop) or a concurrency (closed loop)")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.LateAfter <= 0 {
		o.LateAfter = 10 * time.Millisecond
	}
	if o.Rate > 0 && o.Concurrency <= 0 {
		o.Concurrency = max(64, int(o.Rate*0.4))
	}
	start := time.Now()
	rec := newRecorder(start, o.Warmup)
	total := o.Warmup + o.Duration
	runCtx, cancel := context.WithTimeout(ctx, total+o.Timeout+5*time.Second)
	defer cancel()
	var unstarted int64
	if o.Rate > 0 {
		unstarted = openLoop(runCtx, w, o, start, total, rec)
	} else {
		closedLoop(runCtx, w, o, start, total, rec)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench interrupted: %w", err)
	}
	s := &Summary{Mode: "closed", TargetRate: o.Rate, Concurrency: o.Concurrency, Duration: o.Duration.Seconds(),
		Warmup: o.Warmup.Seconds(), OK: rec.ok, Failed: rec.failed, Late: rec.late, Unstarted: unstarted,
		Errors: rec.classes, Latency: dist(rec.latency), Service: dist(rec.service), Platform: dist(rec.platform), Seconds: rec.series()}
	if o.Rate > 0 {
		s.Mode = "open"
	}
	s.LatencyHDR, s.PlatformHDR = encodeHist(rec.latency), encodeHist(rec.platform)
	s.Ops = s.OK + s.Failed
	s.Achieved = float64(s.OK) / o.Duration.Seconds()
	if s.Ops > 0 {
		s.Success = 100 * float64(s.OK) / float64(s.Ops)
	}
	return s, nil
}

func runOne(ctx context.Context, op Op, timeout time.Duration) Result {
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return op(octx)
}

func closedLoop(ctx context.Context, w Workload, o Options, start time.Time, total time.Duration, rec *recorder) {
	end := start.Add(total)
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				began := time.Now()
				if !began.Before(end) {
					return
				}
				res := runOne(ctx, w.Next(ctx, i), o.Timeout)
				rec.record(began, began, time.Now(), res, false)
			}
		}()
	}
	wg.Wait()
}

type slot struct {
	intended time.Time
}

// openLoop schedules operation i at start + i/rate. Workers take them in order; when
// every worker is busy the schedule keeps running and operations wait, their latency
// still counted from the intended time. Operations still unstarted when the run ends
// are counted, not dropped silently.
func openLoop(ctx context.Context, w Workload, o Options, start time.Time, total time.Duration, rec *recorder) (unstarted int64) {
	queue := make(chan slot, o.Concurrency*4)
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range queue {
				began := time.Now()
				res := runOne(ctx, w.Next(ctx, i), o.Timeout)
				rec.record(s.intended, began, time.Now(), res, began.Sub(s.intended) > o.LateAfter)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / o.Rate)
	n := int64(total / interval)
	var i int64
	for ; i < n && ctx.Err() == nil; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if d := time.Until(intended); d > 0 {
			time.Sleep(d)
		}
		select {
		case queue <- slot{intended: intended}:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	return n - i
}
