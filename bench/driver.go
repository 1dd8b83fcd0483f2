package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
	Concurrency int           // closed loop: workers; open loop: most operations in flight (default DefaultInFlight)
	Duration    time.Duration // steady state, after Warmup
	Warmup      time.Duration
	Timeout     time.Duration // per operation, default 10s
	// LateAfter marks an open-loop operation late when it starts this long after its
	// intended time (default 10ms): the generator or the system fell behind.
	LateAfter time.Duration
	// Resources, when set, samples this host's and the platform's resources each
	// second of the run (Summary.Resources).
	Resources *SamplerOptions
	// Progress, when set, is called about once a second while the run lasts.
	Progress func(Progress)
}

// Progress is the state of a run, once a second.
type Progress struct {
	Elapsed, Total time.Duration
	Warmup         bool
	Rate           float64 // operations completed in the last second
	P99            float64 // ms, of the last second
	Errors         int64   // so far, warm-up included
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
	// Resources of this host and the platform each second, when sampled.
	Resources *Resources `json:"resources,omitempty"`
}

// DefaultInFlight is the open loop's default bound on operations in flight: enough
// for an average latency of 50 ms at the rate (at least 64). Operations beyond it
// wait for a worker, their latency still counted from their intended start, so a
// slow system shows as latency rather than as a generator opening ever more
// connections.
func DefaultInFlight(rate float64) int { return max(64, int(rate/20)) }

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
		o.Concurrency = DefaultInFlight(o.Rate)
	}
	start := time.Now()
	rec := newRecorder(start, o.Warmup)
	total := o.Warmup + o.Duration
	runCtx, cancel := context.WithTimeout(ctx, total+o.Timeout+5*time.Second)
	defer cancel()
	var sampler *Sampler
	if o.Resources != nil {
		so := *o.Resources
		so.Warmup = o.Warmup
		sampler = StartSampler(runCtx, so)
	}
	stopProgress := progress(runCtx, o, start, total, rec)
	var unstarted int64
	if o.Rate > 0 {
		unstarted = openLoop(runCtx, w, o, start, total, rec)
	} else {
		closedLoop(runCtx, w, o, start, total, rec)
	}
	stopProgress()
	var res *Resources
	if sampler != nil {
		res = sampler.Stop()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench interrupted: %w", err)
	}
	s := &Summary{Mode: "closed", TargetRate: o.Rate, Concurrency: o.Concurrency, Duration: o.Duration.Seconds(),
		Warmup: o.Warmup.Seconds(), OK: rec.ok, Failed: rec.failed, Late: rec.late, Unstarted: unstarted,
		Errors: rec.classes, Latency: dist(rec.latency), Service: dist(rec.service), Platform: dist(rec.platform), Seconds: rec.series(),
		Resources: res}
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

// progress calls o.Progress each second until the returned stop is called.
func progress(ctx context.Context, o Options, start time.Time, total time.Duration, rec *recorder) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				el := now.Sub(start)
				if el > total {
					el = total
				}
				last := int(el/time.Second) - 1
				p := Progress{Elapsed: el, Total: total, Warmup: el < o.Warmup}
				rec.mu.Lock()
				if s := rec.seconds[last]; s != nil {
					p.Rate = float64(s.ok + s.errors)
					p.P99 = float64(s.h.ValueAtQuantile(99)) / 1000
				}
				for _, s := range rec.seconds {
					p.Errors += s.errors
				}
				rec.mu.Unlock()
				o.Progress(p)
			}
		}
	}()
	return func() { cancel(); <-done }
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
				// A slot handed out early (see lead) that starts before its time is
				// measured from its start: its latency is then its service time.
				from := s.intended
				if began.Before(from) {
					from = began
				}
				rec.record(from, began, time.Now(), res, began.Sub(s.intended) > o.LateAfter)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / o.Rate)
	n := int64(total / interval)
	var i int64
	// The pacer keeps its own OS thread and sleeps on the kernel's precise timer (the
	// runtime's timers wake up to a millisecond late for short waits). It hands each
	// slot to a worker a little before its time (lead), because waking a parked
	// goroutine takes tens of microseconds, and it sleeps only for waits of 200 µs or
	// more: at high rates it hands out the few slots due that soon at once.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	preciseThread()
	const lead, minSleep = 80 * time.Microsecond, 200 * time.Microsecond
	for ; i < n && ctx.Err() == nil; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if d := time.Until(intended) - lead; d >= minSleep {
			sleepPrecise(d)
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
