package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsServer serves real client_golang output: the process collector of this
// process, and (when withHost) payd's host-size gauges.
func metricsServer(t *testing.T, withHost bool) string {
	var scrapes atomic.Int64
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if withHost {
		cpus := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payd_host_cpus"})
		cpus.Set(2)
		memory := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payd_host_memory_bytes"})
		memory.Set(1 << 34)
		// The whole host: 1 busy second in every 4 between scrapes, 4 GiB in use.
		busy := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "payd_host_cpu_busy_seconds_total"}, func() float64 { return float64(scrapes.Load()) })
		total := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "payd_host_cpu_seconds_total"}, func() float64 { return 4 * float64(scrapes.Load()) })
		used := prometheus.NewGauge(prometheus.GaugeOpts{Name: "payd_host_memory_used_bytes"})
		used.Set(1 << 32)
		reg.MustRegister(cpus, memory, busy, total, used)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { scrapes.Add(1); h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// TestSamplerSeesPlatformAndOtherLoad samples while a busy loop, which belongs to
// neither the generator nor the system, burns one core.
func TestSamplerSeesPlatformAndOtherLoad(t *testing.T) {
	// timeout ends the loop even if this test dies; the group kill ends it sooner.
	busy := exec.Command("timeout", "5", "sh", "-c", "while :; do :; done")
	busy.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-busy.Process.Pid, syscall.SIGKILL); busy.Wait() })
	s := StartSampler(context.Background(), SamplerOptions{MetricsURL: metricsServer(t, true), Interval: 500 * time.Millisecond,
		Warmup: 400 * time.Millisecond, SystemProcesses: []string{"payd"}})
	time.Sleep(2600 * time.Millisecond)
	r := s.Stop()
	if len(r.Samples) < 4 || !r.Samples[0].Warmup || r.Samples[len(r.Samples)-1].Warmup {
		t.Fatalf("samples %+v: want >= 4, the first in warm-up, the last not", r.Samples)
	}
	if !r.PlatformSampled || r.PlatformError != "" || r.Avg.PlatformMem <= 0 || r.Avg.PlatformRSS <= 0 {
		t.Fatalf("platform not sampled: %+v", r)
	}
	if r.Avg.PlatformHostCPU != 25 || r.Avg.PlatformHostMem != 25 {
		t.Errorf("platform host CPU %.2f%%, memory %.2f%%: want 25%% and 25%%", r.Avg.PlatformHostCPU, r.Avg.PlatformHostMem)
	}
	if r.Avg.HostCPU < 5 || r.Peak.HostCPU < r.Avg.HostCPU {
		t.Fatalf("host CPU avg %.1f peak %.1f with a core busy", r.Avg.HostCPU, r.Peak.HostCPU)
	}
	var sh *ProcessCPU
	for i, p := range r.Processes {
		if p.Name == "sh" && p.Role == "other" {
			sh = &r.Processes[i]
		}
	}
	// A busy loop is one core (100/cores % of the host) on an idle machine; the test
	// machine is shared with other test packages, so only require that it is seen.
	if sh == nil || sh.CPU < 5 || r.OtherCPU < sh.CPU {
		t.Fatalf("the busy loop is not seen as other load: %+v (other %.1f%%, %d cores)", r.Processes, r.OtherCPU, r.Cores)
	}
}

func TestSamplerNamesMissingMetrics(t *testing.T) {
	s := StartSampler(context.Background(), SamplerOptions{MetricsURL: metricsServer(t, false), Interval: 200 * time.Millisecond})
	time.Sleep(500 * time.Millisecond)
	r := s.Stop()
	if r.PlatformSampled || !strings.Contains(r.PlatformError, "no payd_host_cpus") {
		t.Fatalf("sampled %v, error %q", r.PlatformSampled, r.PlatformError)
	}
	// A metrics URL that carries a password and answers 404: the error names the URL,
	// never the password.
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	s = StartSampler(context.Background(), SamplerOptions{MetricsURL: strings.Replace(notFound.URL, "http://", "http://scrape:s3cret@", 1) + "/metrics",
		Interval: 200 * time.Millisecond})
	time.Sleep(300 * time.Millisecond)
	if r := s.Stop(); !strings.Contains(r.PlatformError, "HTTP 404") || strings.Contains(r.PlatformError, "s3cret") {
		t.Fatalf("metrics answering 404: %q", r.PlatformError)
	}
	s = StartSampler(context.Background(), SamplerOptions{MetricsURL: "http://scrape:s3cret@127.0.0.1:1/metrics", Interval: 200 * time.Millisecond, HTTP: http.DefaultClient})
	time.Sleep(300 * time.Millisecond)
	if r := s.Stop(); r.PlatformSampled || !strings.Contains(r.PlatformError, "connection refused") || strings.Contains(r.PlatformError, "s3cret") {
		t.Fatalf("unreachable metrics (and no password in the evidence): %q", r.PlatformError)
	}
}
