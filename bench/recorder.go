package bench

import (
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one operation reports.
type Result struct {
	Class    string        // "ok", or an error class: "http_422:insufficient_funds", "timeout", "conn", ...
	Platform time.Duration // the system's own time for it (X-Platform-Time-Us), 0 if unknown
}

// OK reports success.
func (r Result) OK() bool { return r.Class == "ok" }

// Dist summarises one latency distribution, in milliseconds.
type Dist struct {
	Count int64   `json:"count"`
	Avg   float64 `json:"avg_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 120_000_000, 3) } // 1 µs .. 120 s

func dist(h *hdrhistogram.Histogram) Dist {
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return Dist{Count: h.TotalCount(), Avg: h.Mean() / 1000, P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P95: ms(h.ValueAtQuantile(95)), P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
}

// Second is one second of the run.
type Second struct {
	T      int     `json:"t"` // seconds since the start, warm-up included
	Warmup bool    `json:"warmup"`
	OK     int64   `json:"ok"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// recorder collects results. Latency runs from the intended start (open loop) or the
// actual start (closed loop); service time from the actual start.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	warmup   time.Duration
	latency  *hdrhistogram.Histogram
	service  *hdrhistogram.Histogram
	platform *hdrhistogram.Histogram
	ok       int64
	failed   int64
	classes  map[string]int64
	late     int64
	seconds  map[int]*secondRec
}

type secondRec struct {
	ok, errors int64
	h          *hdrhistogram.Histogram
}

func newRecorder(start time.Time, warmup time.Duration) *recorder {
	return &recorder{start: start, warmup: warmup, latency: newHist(), service: newHist(), platform: newHist(),
		classes: map[string]int64{}, seconds: map[int]*secondRec{}}
}

func (r *recorder) record(intended, began, end time.Time, res Result, late bool) {
	lat := end.Sub(intended).Microseconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	sec := int(end.Sub(r.start) / time.Second)
	s := r.seconds[sec]
	if s == nil {
		s = &secondRec{h: newHist()}
		r.seconds[sec] = s
	}
	s.h.RecordValue(max(lat, 1))
	if res.OK() {
		s.ok++
	} else {
		s.errors++
	}
	if intended.Sub(r.start) < r.warmup {
		return // warm-up: in the per-second series only
	}
	r.latency.RecordValue(max(lat, 1))
	r.service.RecordValue(max(end.Sub(began).Microseconds(), 1))
	if res.Platform > 0 {
		r.platform.RecordValue(max(res.Platform.Microseconds(), 1))
	}
	if late {
		r.late++
	}
	if res.OK() {
		r.ok++
	} else {
		r.failed++
		r.classes[res.Class]++
	}
}

func (r *recorder) series() []Second {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]int, 0, len(r.seconds))
	for k := range r.seconds {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]Second, 0, len(keys))
	for _, k := range keys {
		s := r.seconds[k]
		d := dist(s.h)
		out = append(out, Second{T: k, Warmup: time.Duration(k)*time.Second < r.warmup, OK: s.ok, Errors: s.errors, P50: d.P50, P99: d.P99, Max: d.Max})
	}
	return out
}
