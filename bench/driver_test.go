package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// stallServer answers after 1 ms, except during [stallAt, stallAt+stallFor) after its
// first request, when every request waits until the stall ends.
func stallServer(t *testing.T, stallAt, stallFor time.Duration) *httptest.Server {
	var first atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		begin := time.Unix(0, first.Load()).Add(stallAt)
		if end := begin.Add(stallFor); time.Now().After(begin) && time.Now().Before(end) {
			time.Sleep(time.Until(end))
		}
		time.Sleep(time.Millisecond)
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type httpWorkload struct{ url string }

func (h httpWorkload) Next(ctx context.Context, _ int) Op {
	return func(ctx context.Context) Result {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return Result{Class: classify(err)}
		}
		resp.Body.Close()
		return Result{Class: "ok"}
	}
}

// TestOpenLoopSeesTheStallClosedLoopHidesIt is coordinated omission made visible: a
// 400 ms stall shows in the open loop's p99, while a single closed-loop worker waits
// politely through it and reports one slow request among many.
func TestOpenLoopSeesTheStallClosedLoopHidesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: runs 6 s")
	}
	const rate = 200.0
	open, err := Run(context.Background(), httpWorkload{stallServer(t, time.Second, 400*time.Millisecond).URL},
		Options{Rate: rate, Duration: 3 * time.Second, Concurrency: 200})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := Run(context.Background(), httpWorkload{stallServer(t, time.Second, 400*time.Millisecond).URL},
		Options{Concurrency: 1, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open: p50 %.1f ms p99 %.1f ms achieved %.1f/s late %d; closed: p50 %.1f ms p99 %.1f ms", open.Latency.P50, open.Latency.P99, open.Achieved, open.Late, closed.Latency.P50, closed.Latency.P99)
	if open.Latency.P99 < 200 {
		t.Errorf("open loop p99 %.1f ms hides a 400 ms stall", open.Latency.P99)
	}
	if closed.Latency.P99 > 50 {
		t.Errorf("closed loop p99 %.1f ms: expected it to hide the stall (one slow request of many)", closed.Latency.P99)
	}
	if d := open.Achieved/rate - 1; d > 0.01 || d < -0.01 {
		t.Errorf("achieved %.2f/s, target %.0f/s: more than 1%% apart", open.Achieved, rate)
	}
	if open.Failed != 0 || open.Unstarted != 0 {
		t.Errorf("failed %d unstarted %d", open.Failed, open.Unstarted)
	}
}

// TestOpenLoopCountsLateStarts: with only two workers the stall queues operations;
// they start late, are counted as late, and their latency (from the intended start)
// exceeds their service time.
func TestOpenLoopCountsLateStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: runs 2 s")
	}
	s, err := Run(context.Background(), httpWorkload{stallServer(t, 500*time.Millisecond, 300*time.Millisecond).URL},
		Options{Rate: 200, Duration: 2 * time.Second, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s.Late < 20 || s.Latency.P99 < s.Service.P99+100 {
		t.Errorf("late %d, latency p99 %.1f ms, service p99 %.1f ms: queued operations must show as late and slow", s.Late, s.Latency.P99, s.Service.P99)
	}
}

func TestWarmupIsExcluded(t *testing.T) {
	t.Parallel()
	s, err := Run(context.Background(), httpWorkload{stallServer(t, time.Hour, 0).URL},
		Options{Rate: 100, Warmup: 500 * time.Millisecond, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops < 95 || s.Ops > 105 {
		t.Errorf("steady window counted %d ops, want about 100 (warm-up excluded)", s.Ops)
	}
	warm := 0
	for _, sec := range s.Seconds {
		if sec.Warmup {
			warm++
		}
	}
	if warm == 0 {
		t.Error("per-second series should mark the warm-up")
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {Rate: -1, Duration: time.Second}, {Duration: time.Second}} {
		if _, err := Run(context.Background(), httpWorkload{}, o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}
