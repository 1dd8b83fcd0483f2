package checks

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// hostFS reads a host's files under a root ("/" live, a fixture tree in tests).
type hostFS struct{ root string }

func (h hostFS) path(p string) string { return filepath.Join(h.root, p) }

func (h hostFS) read(p string) (string, error) {
	b, err := os.ReadFile(h.path(p))
	return strings.TrimSpace(string(b)), err
}

// osRelease parses /etc/os-release.
func (h hostFS) osRelease() (map[string]string, error) {
	s, err := h.read("/etc/os-release")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out, nil
}

// cpuInfo is what /proc/cpuinfo says.
type cpuInfo struct {
	arch        string // arm64 or amd64
	model       string
	implementer string // arm: "0x48" is HiSilicon
	part        string // arm: "0xd01" is Kunpeng 920 (TaiShan v110)
	processors  int
}

func (h hostFS) cpuInfo() (cpuInfo, error) {
	s, err := h.read("/proc/cpuinfo")
	if err != nil {
		return cpuInfo{}, err
	}
	var c cpuInfo
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			c.processors++
		case "model name", "Model Name":
			if c.model == "" {
				c.model = v
			}
		case "CPU implementer":
			c.implementer = strings.ToLower(v)
			c.arch = "arm64"
		case "CPU part":
			c.part = strings.ToLower(v)
		case "vendor_id":
			c.arch = "amd64"
		}
	}
	if c.implementer == "0x48" && c.part == "0xd01" {
		c.model = "Kunpeng 920"
	}
	if c.model == "" && c.arch == "arm64" {
		c.model = "ARM implementer " + c.implementer + " part " + c.part
	}
	return c, nil
}

// memInfo returns MemTotal and SwapTotal in bytes.
func (h hostFS) memInfo() (mem, swap uint64, err error) {
	s, err := h.read("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			mem = v * 1024
		case "SwapTotal:":
			swap = v * 1024
		}
	}
	return mem, swap, nil
}

// sysctl reads a kernel parameter under /proc/sys.
func (h hostFS) sysctl(key string) (string, error) {
	s, err := h.read("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	return strings.Join(strings.Fields(s), " "), err
}

var bracketed = regexp.MustCompile(`\[([^\]]+)\]`)

// selected reads a /sys choice file such as "always madvise [never]".
func (h hostFS) selected(p string) (string, error) {
	s, err := h.read(p)
	if err != nil {
		return "", err
	}
	if m := bracketed.FindStringSubmatch(s); m != nil {
		return m[1], nil
	}
	return s, nil
}

// limit finds the highest soft limit for item ("nofile", "nproc") set for everyone
// ("*") or user in limits.conf and limits.d; -1 means unlimited, 0 not set.
func (h hostFS) limit(item, user string) (int64, string) {
	files := []string{h.path("/etc/security/limits.conf")}
	more, _ := filepath.Glob(h.path("/etc/security/limits.d/*.conf"))
	files = append(files, more...)
	var best int64
	where := ""
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if (fields[0] != "*" && fields[0] != user) || fields[2] != item || (fields[1] != "soft" && fields[1] != "-") {
				continue
			}
			v, err := strconv.ParseInt(fields[3], 10, 64)
			if fields[3] == "unlimited" || fields[3] == "infinity" {
				v, err = -1, nil
			}
			if err == nil && (v == -1 || (best != -1 && v > best)) {
				best, where = v, strings.TrimPrefix(f, h.root)
			}
		}
		fh.Close()
	}
	return best, where
}

// processRunning reports whether a process with one of the names runs (by /proc/*/comm).
func (h hostFS) processRunning(names ...string) (string, bool) {
	comms, _ := filepath.Glob(h.path("/proc/[0-9]*/comm"))
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(b))
		for _, n := range names {
			if name == n {
				return n, true
			}
		}
	}
	return "", false
}
