package checks

import (
	"context"
	"os"
	"runtime"
	"strings"
)

// Fingerprint identifies the host a report was made on.
type Fingerprint struct {
	Hostname string  `json:"hostname"`
	Arch     string  `json:"arch"`
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemoryGB float64 `json:"memory_gib"`
	OS       string  `json:"os"`
	Kernel   string  `json:"kernel"`
}

func fingerprint(_ context.Context, root string) Fingerprint {
	h := hostFS{root}
	f := Fingerprint{}
	f.Hostname, _ = h.read("/proc/sys/kernel/hostname")
	if c, err := h.cpuInfo(); err == nil {
		f.Arch, f.CPU, f.Cores = c.arch, c.model, c.processors
	}
	if f.Arch == "" && live(&Target{Root: root}) {
		f.Arch = runtime.GOARCH
	}
	if mem, _, err := h.memInfo(); err == nil {
		f.MemoryGB = float64(mem*10/(1<<30)) / 10
	}
	if rel, err := h.osRelease(); err == nil {
		f.OS = strings.TrimSpace(rel["PRETTY_NAME"])
	}
	f.Kernel, _ = h.read("/proc/sys/kernel/osrelease")
	if f.Hostname == "" {
		f.Hostname, _ = os.Hostname()
	}
	return f
}

// HostFingerprint identifies the host under root, for reports.
func HostFingerprint(ctx context.Context, root string) Fingerprint { return fingerprint(ctx, root) }
