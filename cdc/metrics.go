package cdc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves a pipeline's counters in Prometheus's format.
func MetricsHandler(s *Stats, slot string) http.Handler {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"slot": slot}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	reg.MustRegister(
		counter("xckit_cdc_rows_total", "Rows applied to the target.", func() float64 { return float64(s.Rows.Load()) }),
		counter("xckit_cdc_txns_total", "Source transactions applied to the target.", func() float64 { return float64(s.Txns.Load()) }),
		counter("xckit_cdc_batches_total", "Target transactions committed (each with its checkpoint).", func() float64 { return float64(s.Batches.Load()) }),
		counter("xckit_cdc_retries_total", "Retries after a side was unreachable.", func() float64 { return float64(s.Retries.Load()) }),
		gauge("xckit_cdc_applied_lsn", "Commit LSN of the last applied source transaction.", func() float64 { return float64(s.AppliedLSN.Load()) }),
		gauge("xckit_cdc_source_lsn", "The source's write position at the pipeline's last read.", func() float64 { return float64(s.SourceLSN.Load()) }),
		gauge("xckit_cdc_lag_bytes", "WAL bytes between the source's position at the last read and the last applied commit (an upper bound: it includes WAL of other databases and of nothing to replicate).",
			func() float64 { return float64(max(int64(s.SourceLSN.Load())-int64(s.AppliedLSN.Load()), 0)) }),
		gauge("xckit_cdc_last_commit_seconds", "Source commit time of the last applied transaction (Unix seconds; 0 before the first).",
			func() float64 { return float64(s.LastCommitUnixNano.Load()) / 1e9 }),
		gauge("xckit_cdc_lag_seconds", "How far behind the target is: 0 when the last read found nothing new, else the age of the oldest commit possibly not applied.",
			func() float64 { return s.LagSeconds(time.Now()) }),
		gauge("xckit_cdc_retained_wal_bytes", "WAL (or binary log) the source keeps for the stream, sampled every 15 s (-1: not sampled yet).",
			func() float64 { return float64(s.RetainedBytes.Load()) }),
		&statsCollector{s: s, labels: labels},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// NewStats are counters with nothing counted yet.
func NewStats() *Stats {
	s := &Stats{}
	s.RetainedBytes.Store(-1)
	return s
}

// BatchBuckets are the batch-latency histogram's upper bounds in seconds.
var BatchBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations in BatchBuckets, safe for concurrent use.
type Histogram struct {
	counts [12]atomic.Uint64 // one per bucket, the last above every bound
	sumNs  atomic.Uint64
	n      atomic.Uint64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	i, _ := slices.BinarySearch(BatchBuckets, d.Seconds())
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
	h.n.Add(1)
}

// statsCollector exports what needs more than one number: the batch latency
// histogram and the retries by step.
type statsCollector struct {
	s      *Stats
	labels prometheus.Labels
}

var (
	batchDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("xckit_cdc_batch_seconds", "Time from a read to its batch applied, committed and confirmed to the source.", nil, l)
	}
	retriesDesc = func(l prometheus.Labels) *prometheus.Desc {
		return prometheus.NewDesc("xckit_cdc_step_retries_total", "Retries after a side was unreachable, by step.", []string{"step"}, l)
	}
)

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- batchDesc(c.labels)
	ch <- retriesDesc(c.labels)
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	h := &c.s.Batch
	buckets := map[float64]uint64{}
	var cum uint64
	for i, ub := range BatchBuckets {
		cum += h.counts[i].Load()
		buckets[ub] = cum
	}
	ch <- prometheus.MustNewConstHistogram(batchDesc(c.labels), h.n.Load(), float64(h.sumNs.Load())/1e9, buckets)
	c.s.RetriesBy.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(retriesDesc(c.labels), prometheus.CounterValue, float64(v.(*atomic.Int64).Load()), k.(string))
		return true
	})
}

// ServeMetrics listens on addr (a busy address is an error at once, not a silent
// failure later) and serves MetricsHandler until stop is called.
func ServeMetrics(addr string, s *Stats, slot string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: MetricsHandler(s, slot), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) // returns http.ErrServerClosed on stop
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
