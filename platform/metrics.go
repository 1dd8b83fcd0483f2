package platform

import (
	"database/sql"
	"runtime"

	"github.com/shirou/gopsutil/v3/cpu"
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
	// The whole host's use, read at each scrape: a bench reports the platform host's
	// CPU and memory beside payd's own share (the reference case quotes the server's).
	hostBusy := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "payd_host_cpu_busy_seconds_total",
		Help: "CPU seconds the host payd runs on spent busy (all CPUs; not idle or iowait)."}, func() float64 {
		busy, _ := hostCPUTimes()
		return busy
	})
	hostTotal := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "payd_host_cpu_seconds_total",
		Help: "CPU seconds of the host payd runs on (all CPUs, all states)."}, func() float64 {
		_, total := hostCPUTimes()
		return total
	})
	hostUsed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "payd_host_memory_used_bytes",
		Help: "Memory in use on the host payd runs on (total minus available)."}, func() float64 {
		vm, err := mem.VirtualMemory()
		if err != nil {
			return 0
		}
		return float64(vm.Total - vm.Available)
	})
	m.reg.MustRegister(m.requests, m.latency, m.inFlight, hostCPUs, hostMem, hostBusy, hostTotal, hostUsed,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	for name, db := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
	return m
}

// hostCPUTimes returns the host's busy and total CPU seconds so far (0, 0 when they
// cannot be read).
func hostCPUTimes() (busy, total float64) {
	t, err := cpu.Times(false)
	if err != nil || len(t) == 0 {
		return 0, 0
	}
	x := t[0]
	total = x.User + x.Nice + x.System + x.Idle + x.Iowait + x.Irq + x.Softirq + x.Steal
	return total - x.Idle - x.Iowait, total
}
