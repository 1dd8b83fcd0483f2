package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/net"
	"github.com/shirou/gopsutil/v3/process"

	"github.com/xckit/xckit/internal/dbx"
)

// SamplerOptions say what the resource sampler watches.
type SamplerOptions struct {
	// MetricsURL is the platform's Prometheus endpoint (payd's /metrics): its process
	// CPU and resident memory, as shares of the platform host, go into the verdict.
	MetricsURL string
	// SystemProcesses are the names of processes on this host that belong to the
	// system under test (payd, the database, the balancer); everything else but the
	// generator is "other" load, which makes the figures less trustworthy.
	SystemProcesses []string
	Warmup          time.Duration // samples before it are marked warm-up
	Interval        time.Duration // default 1 s
	HTTP            *http.Client
}

// DefaultSystemProcesses are the processes of the lab's and a site's stack: payd, the
// new database, the balancer, and the legacy database (the CDC target, or the target
// itself when the bench drives the legacy side).
var DefaultSystemProcesses = []string{"payd", "postgres", "gaussdb", "nginx", "mariadbd", "mysqld"}

// ResourceSample is one interval of resource use. CPU figures are percentages of the
// whole host (all cores), memory of its physical memory, rates in bytes per second.
type ResourceSample struct {
	T            int     `json:"t,omitempty"` // seconds since the start; 0 in Avg and Peak
	Warmup       bool    `json:"warmup,omitempty"`
	HostCPU      float64 `json:"host_cpu_pct"`
	HostMem      float64 `json:"host_mem_pct"`
	DiskRead     float64 `json:"disk_read_bps"`
	DiskWrite    float64 `json:"disk_write_bps"`
	NetRecv      float64 `json:"net_recv_bps"`
	NetSent      float64 `json:"net_sent_bps"`
	GeneratorCPU float64 `json:"generator_cpu_pct"`
	PlatformCPU  float64 `json:"platform_cpu_pct"`
	PlatformMem  float64 `json:"platform_mem_pct"`
	PlatformRSS  float64 `json:"platform_rss_bytes"`
	// The platform host's whole use, when its /metrics publishes it (payd does).
	PlatformHostCPU float64 `json:"platform_host_cpu_pct"`
	PlatformHostMem float64 `json:"platform_host_mem_pct"`
}

// ProcessCPU is the steady-state CPU of the processes of one name on this host.
type ProcessCPU struct {
	Name  string  `json:"name"`
	Role  string  `json:"role"` // generator, system or other
	Procs int     `json:"procs"`
	CPU   float64 `json:"cpu_pct"` // of the whole host
}

// Resources is what the sampler saw; Avg and Peak cover the steady state only.
type Resources struct {
	Samples         []ResourceSample `json:"samples"`
	Avg             ResourceSample   `json:"avg"`
	Peak            ResourceSample   `json:"peak"`
	PlatformSampled bool             `json:"platform_sampled"`
	PlatformError   string           `json:"platform_error,omitempty"`
	Processes       []ProcessCPU     `json:"processes,omitempty"`
	OtherCPU        float64          `json:"other_cpu_pct"`
	Cores           int              `json:"cores"`
	// Generators are the generator hosts of a merged run (xckit bench merge), each
	// with its own load and what else ran there.
	Generators []GeneratorLoad `json:"generators,omitempty"`
}

// GeneratorLoad is one generator host's own figures in a merged run.
type GeneratorLoad struct {
	Host         string       `json:"host"`
	HostCPU      float64      `json:"host_cpu_pct"`
	GeneratorCPU float64      `json:"generator_cpu_pct"`
	OtherCPU     float64      `json:"other_cpu_pct"`
	Others       []ProcessCPU `json:"others,omitempty"` // the busiest other processes
}

// Sampler samples resources each interval until Stop.
type Sampler struct {
	o      SamplerOptions
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	res    Resources
	steady map[int32]procCPU // process CPU seconds when the steady state began
	end    map[int32]procCPU
	// when the two snapshots were taken
	steadyAt, endAt time.Time
	last            platformMetrics // the latest scrape: RSS and host size
}

type procCPU struct {
	name string
	secs float64
}

type counters struct {
	at                       time.Time
	cpuBusy, cpuTotal        float64
	diskR, diskW, netR, netW float64
	gen                      float64
	plat                     float64 // platform process CPU seconds
	platOK                   bool
	hostBusy, hostTotal      float64 // the platform host's CPU seconds
	hostOK                   bool
}

// StartSampler begins sampling; Stop ends it and returns what it saw.
func StartSampler(ctx context.Context, o SamplerOptions) *Sampler {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 2 * time.Second}
	}
	if o.SystemProcesses == nil {
		o.SystemProcesses = DefaultSystemProcesses
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{o: o, cancel: cancel, done: make(chan struct{})}
	n, _ := cpu.CountsWithContext(ctx, true)
	s.res.Cores = n
	go s.loop(ctx)
	return s
}

// Stop ends sampling and summarises the steady state.
func (s *Sampler) Stop() *Resources {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.res
	r.summarise()
	r.Processes, r.OtherCPU = processShares(s.steady, s.end, r.Cores, s.endAt.Sub(s.steadyAt).Seconds(), s.o.SystemProcesses)
	return &r
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	start := time.Now()
	prev := s.read(ctx)
	if s.o.Warmup <= 0 {
		s.steady, s.steadyAt = snapshotProcesses(ctx), time.Now()
	}
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	add := func(i int, cur counters) {
		sample := s.sample(i, prev, cur)
		sample.Warmup = prev.at.Sub(start) < s.o.Warmup-s.o.Interval/10 // it began in the warm-up
		s.mu.Lock()
		s.res.Samples = append(s.res.Samples, sample)
		s.mu.Unlock()
		prev = cur
	}
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			// The run ended: a last, shorter sample when it covers at least half an
			// interval, so that a short run is not left without figures.
			fin, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if cur := s.read(fin); cur.at.Sub(prev.at) >= s.o.Interval/2 {
				add(i, cur)
			}
			if s.steady != nil {
				end := snapshotProcesses(fin)
				s.mu.Lock()
				s.end, s.endAt = end, time.Now()
				s.mu.Unlock()
			}
			return
		case <-t.C:
		}
		add(i, s.read(ctx))
		if s.steady == nil && time.Since(start) >= s.o.Warmup {
			s.steady, s.steadyAt = snapshotProcesses(ctx), time.Now()
		}
	}
}

// read takes the cumulative counters the samples are differences of.
func (s *Sampler) read(ctx context.Context) counters {
	c := counters{at: time.Now()}
	if t, err := cpu.TimesWithContext(ctx, false); err == nil && len(t) > 0 {
		x := t[0]
		idle := x.Idle + x.Iowait
		c.cpuTotal = x.User + x.Nice + x.System + x.Idle + x.Iowait + x.Irq + x.Softirq + x.Steal
		c.cpuBusy = c.cpuTotal - idle
	}
	if io, err := disk.IOCountersWithContext(ctx); err == nil {
		for name, d := range io {
			if isPartition(name, io) {
				continue // counted with its disk
			}
			c.diskR += float64(d.ReadBytes)
			c.diskW += float64(d.WriteBytes)
		}
	}
	if io, err := net.IOCountersWithContext(ctx, false); err == nil && len(io) > 0 {
		c.netR, c.netW = float64(io[0].BytesRecv), float64(io[0].BytesSent)
	}
	if p, err := process.NewProcessWithContext(ctx, int32(os.Getpid())); err == nil {
		if t, err := p.TimesWithContext(ctx); err == nil {
			c.gen = t.User + t.System
		}
	}
	if s.o.MetricsURL != "" {
		m, err := s.scrape(ctx)
		s.mu.Lock()
		if err != nil {
			s.res.PlatformError = dbx.Redact(err.Error()) // a metrics URL may carry a password
		} else {
			s.res.PlatformSampled = true
			c.plat, c.platOK = m.cpuSeconds, true
			c.hostBusy, c.hostTotal, c.hostOK = m.hostBusy, m.hostTotal, m.hostOK
			s.last = m
		}
		s.mu.Unlock()
	}
	return c
}

// isPartition reports whether name (sda1, nvme0n1p2) is a partition of a listed disk.
func isPartition(name string, all map[string]disk.IOCountersStat) bool {
	for parent := range all {
		if parent != name && strings.HasPrefix(name, parent) {
			return true
		}
	}
	return strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "dm-")
}

func (s *Sampler) sample(i int, a, b counters) ResourceSample {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		secs = s.o.Interval.Seconds()
	}
	cores := float64(max(s.res.Cores, 1))
	x := ResourceSample{T: i,
		DiskRead: (b.diskR - a.diskR) / secs, DiskWrite: (b.diskW - a.diskW) / secs,
		NetRecv: (b.netR - a.netR) / secs, NetSent: (b.netW - a.netW) / secs,
		GeneratorCPU: 100 * (b.gen - a.gen) / (secs * cores)}
	if d := b.cpuTotal - a.cpuTotal; d > 0 {
		x.HostCPU = 100 * (b.cpuBusy - a.cpuBusy) / d
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		x.HostMem = vm.UsedPercent
	}
	s.mu.Lock()
	m := s.last
	s.mu.Unlock()
	if a.platOK && b.platOK && m.cpus > 0 {
		x.PlatformCPU = 100 * (b.plat - a.plat) / (secs * m.cpus)
	}
	if b.platOK {
		x.PlatformRSS = m.rss
		if m.memory > 0 {
			x.PlatformMem = 100 * m.rss / m.memory
		}
	}
	if a.hostOK && b.hostOK && b.hostTotal > a.hostTotal {
		x.PlatformHostCPU = 100 * (b.hostBusy - a.hostBusy) / (b.hostTotal - a.hostTotal)
	}
	if b.hostOK && m.memory > 0 {
		x.PlatformHostMem = 100 * m.hostUsed / m.memory
	}
	return x
}

type platformMetrics struct {
	cpuSeconds, rss, cpus, memory float64
	hostBusy, hostTotal, hostUsed float64 // optional: the whole platform host
	hostOK                        bool
}

// scrape reads the platform's process CPU seconds, resident memory and host size.
func (s *Sampler) scrape(ctx context.Context) (platformMetrics, error) {
	var m platformMetrics
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.o.MetricsURL, nil)
	if err != nil {
		return m, fmt.Errorf("platform metrics %s: %w", s.o.MetricsURL, err)
	}
	resp, err := s.o.HTTP.Do(req)
	if err != nil {
		return m, fmt.Errorf("platform metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("platform metrics %s: HTTP %d", s.o.MetricsURL, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return m, fmt.Errorf("platform metrics %s: %w", s.o.MetricsURL, err)
	}
	val := func(name string) (float64, bool) {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			return 0, false
		}
		x := f.GetMetric()[0]
		switch {
		case x.GetCounter() != nil:
			return x.GetCounter().GetValue(), true
		case x.GetGauge() != nil:
			return x.GetGauge().GetValue(), true
		}
		return 0, false
	}
	var ok [4]bool
	m.cpuSeconds, ok[0] = val("process_cpu_seconds_total")
	m.rss, ok[1] = val("process_resident_memory_bytes")
	m.cpus, ok[2] = val("payd_host_cpus")
	m.memory, ok[3] = val("payd_host_memory_bytes")
	for i, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "payd_host_cpus", "payd_host_memory_bytes"} {
		if !ok[i] {
			return m, fmt.Errorf("platform metrics %s: no %s (the platform's CPU and memory shares cannot be judged)", s.o.MetricsURL, name)
		}
	}
	var hok [3]bool
	m.hostBusy, hok[0] = val("payd_host_cpu_busy_seconds_total")
	m.hostTotal, hok[1] = val("payd_host_cpu_seconds_total")
	m.hostUsed, hok[2] = val("payd_host_memory_used_bytes")
	m.hostOK = hok[0] && hok[1] && hok[2]
	return m, nil
}

// summarise computes the steady-state averages and peaks.
func (r *Resources) summarise() {
	var n float64
	r.Avg, r.Peak = ResourceSample{}, ResourceSample{}
	for _, x := range r.Samples {
		if x.Warmup {
			continue
		}
		n++
		for _, f := range sampleFields {
			v := f(&x)
			*f(&r.Avg) += *v
			*f(&r.Peak) = max(*f(&r.Peak), *v)
		}
	}
	if n > 0 {
		for _, f := range sampleFields {
			*f(&r.Avg) /= n
		}
	}
}

var sampleFields = []func(*ResourceSample) *float64{
	func(x *ResourceSample) *float64 { return &x.HostCPU },
	func(x *ResourceSample) *float64 { return &x.HostMem },
	func(x *ResourceSample) *float64 { return &x.DiskRead },
	func(x *ResourceSample) *float64 { return &x.DiskWrite },
	func(x *ResourceSample) *float64 { return &x.NetRecv },
	func(x *ResourceSample) *float64 { return &x.NetSent },
	func(x *ResourceSample) *float64 { return &x.GeneratorCPU },
	func(x *ResourceSample) *float64 { return &x.PlatformCPU },
	func(x *ResourceSample) *float64 { return &x.PlatformMem },
	func(x *ResourceSample) *float64 { return &x.PlatformRSS },
	func(x *ResourceSample) *float64 { return &x.PlatformHostCPU },
	func(x *ResourceSample) *float64 { return &x.PlatformHostMem },
}

// snapshotProcesses reads every process's CPU seconds so far.
func snapshotProcesses(ctx context.Context) map[int32]procCPU {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil
	}
	out := make(map[int32]procCPU, len(ps))
	for _, p := range ps {
		t, err := p.TimesWithContext(ctx)
		if err != nil {
			continue
		}
		name, _ := p.NameWithContext(ctx)
		out[p.Pid] = procCPU{name: name, secs: t.User + t.System}
	}
	return out
}

// processShares turns two snapshots into CPU shares by process name, each with its
// role, and the total of the other processes.
func processShares(from, to map[int32]procCPU, cores int, secs float64, system []string) ([]ProcessCPU, float64) {
	if from == nil || to == nil || secs <= 0 || cores <= 0 {
		return nil, 0
	}
	self := int32(os.Getpid())
	by := map[string]*ProcessCPU{}
	for pid, b := range to {
		a := from[pid] // a process born during the run starts from zero
		d := b.secs - a.secs
		if d < 0 {
			continue // the pid was reused
		}
		role := "other"
		switch {
		case pid == self:
			role = "generator"
		case slices.ContainsFunc(system, func(n string) bool { return n == b.name || strings.HasPrefix(b.name, n+":") }):
			role = "system"
		}
		key := role + "\x00" + b.name
		pc := by[key]
		if pc == nil {
			pc = &ProcessCPU{Name: b.name, Role: role}
			by[key] = pc
		}
		pc.Procs++
		pc.CPU += 100 * d / (secs * float64(cores))
	}
	var all []ProcessCPU
	var other float64
	for _, pc := range by {
		if pc.Role == "other" {
			other += pc.CPU
		}
		if pc.CPU >= 0.05 {
			all = append(all, *pc)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CPU > all[j].CPU })
	if len(all) > 12 {
		all = all[:12]
	}
	return all, other
}
