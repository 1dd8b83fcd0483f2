package cdc

import (
	"context"
	"fmt"
	"net"
	"net/http"
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
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
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
