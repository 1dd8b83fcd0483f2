package platform

import (
	"database/sql"
	"runtime"

	"github.com/shirou/gopsutil/v3/mem"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are payd's Prometheus series, on a registry of the server's own.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
}

func newMetrics(pools map[string]*sql.DB) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payd_requests_total", Help: "Requests by channel, operation and outcome.",
		}, []string{"channel", "op", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "payd_request_seconds", Help: "Platform time of requests by channel and operation.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .045, .1, .25, .5, 1, 2.5},
		}, []string{"channel", "op"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payd_in_flight", Help: "Requests inside each channel.",
		}, []string{"channel"}),
	}
	// The host's size, so that a bench on another machine can turn the process's CPU
	// seconds and resident memory into shares of the platform host (profile limits
	// such as "CPU and memory under 10%" are shares).
	hostCPUs := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payd_host_cpus", Help: "Logical CPUs of the host payd runs on."})
	hostCPUs.Set(float64(runtime.NumCPU()))
	hostMem := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payd_host_memory_bytes", Help: "Physical memory of the host payd runs on."})
	if vm, err := mem.VirtualMemory(); err == nil {
		hostMem.Set(float64(vm.Total))
	}
	m.reg.MustRegister(m.requests, m.latency, m.inFlight, hostCPUs, hostMem,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	for name, db := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
	return m
}
