package checks

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/disk"

	"github.com/xckit/xckit/profiles"
)

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func live(t *Target) bool { return t.Root == "" || t.Root == "/" }

func hostChecks(p *profiles.Profile) []Check {
	h := p.Host
	list := []Check{
		check{"os.arch", "CPU architecture", checkOsArch(p)},
		check{"cpu.model", "CPU model", checkCpuModel(p)},
		check{"cpu.cores", "CPU cores", checkCpuCores(p)},
		check{"cpu.numa", "NUMA nodes", checkCpuNuma(p)},
		check{"mem.total", "Physical memory", checkMemTotal(p)},
		check{"mem.swap", "Swap no larger than memory", checkMemSwap(p)},
		check{"os.release", "Operating system", checkOsRelease(p)},
		check{"os.kernel", "Kernel version", checkOsKernel(p)},
	}
	keys := make([]string, 0, len(h.Sysctl))
	for k := range h.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		list = append(list, sysctlCheck(k, h.Sysctl[k]))
	}
	list = append(list,
		limitCheck("nofile", h.Limits.NoFile), limitCheck("nproc", h.Limits.NProc),
		check{"os.thp", "Transparent huge pages", checkOsThp(p)},
		check{"disk.scheduler", "I/O scheduler of the disks", checkDiskScheduler(p)},
		diskCheck("disk.space", h, false), diskCheck("disk.inodes", h, true),
		check{"disk.fs", "Filesystem of the data directory", checkDiskFs(p)},
		check{"time.sync", "Time synchronisation", checkTimeSync(p)},
		check{"os.firewall", "Firewall", checkOsFirewall(p)},
		check{"os.selinux", "SELinux", checkOsSelinux(p)},
		check{"net.hostname", "Hostname resolves", checkNetHostname(p)},
		check{"net.ports", "Ports of the profile are free", checkNetPorts(p)},
		check{"os.irqbalance", "irqbalance", checkOsIrqbalance(p)},
		check{"cpu.governor", "CPU frequency governor", checkCpuGovernor(p)},
	)
	return list
}

func sysctlCheck(key, want string) Check {
	return check{"os.sysctl." + key, "Kernel parameter " + key, func(ctx context.Context, t *Target) Result {
		e := ParseExpectation(want)
		mem, _, _ := hostFS{t.Root}.memInfo()
		got, err := hostFS{t.Root}.sysctl(key)
		if err != nil {
			return couldNot(e.Want(mem), fmt.Errorf("read /proc/sys/%s: %v", strings.ReplaceAll(key, ".", "/"), err), "")
		}
		ok, err := e.Met(got, mem)
		if err != nil {
			return couldNot(e.Want(mem), err, "")
		}
		if ok {
			return pass(e.Want(mem), got)
		}
		r := failed(e.Want(mem), got, fmt.Sprintf("sysctl -w %s=\"%s\" and persist it in /etc/sysctl.d/90-xckit.conf (xckit check --fix)", key, e.Target(mem)))
		r.Fix = &Fix{Kind: "sysctl", Key: key, Value: e.Target(mem)}
		return r
	}}
}

func limitCheck(item string, min int64) Check {
	return check{"os.limits." + item, "Limit " + item + " of the service user", func(ctx context.Context, t *Target) Result {
		want := fmt.Sprintf(">= %d", min)
		if min <= 0 {
			return skip("the profile does not care")
		}
		got, where := hostFS{t.Root}.limit(item, "root")
		switch {
		case got == -1:
			return pass(want, "unlimited ("+where+")")
		case got >= min:
			return pass(want, fmt.Sprintf("%d (%s)", got, where))
		}
		actual := "not set in /etc/security/limits.conf or limits.d"
		if got > 0 {
			actual = fmt.Sprintf("%d (%s)", got, where)
		}
		r := failed(want, actual, fmt.Sprintf("add '* soft %s %d' and '* hard %s %d' to /etc/security/limits.d/90-xckit.conf (xckit check --fix); the service unit sets Limit%s too", item, min, item, min, strings.ToUpper(item)))
		r.Fix = &Fix{Kind: "limits", Key: item, Value: strconv.FormatInt(min, 10)}
		return r
	}}
}

// existingDir is the data directory under root, or its nearest existing parent.
func existingDir(root, dir string) string {
	if dir == "" {
		dir = "/"
	}
	if !filepath.IsAbs(dir) {
		if live(&Target{Root: root}) {
			dir, _ = filepath.Abs(dir)
		} else {
			dir = "/" + dir
		}
	}
	p := filepath.Join(root, dir)
	for {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

func diskCheck(id string, h profiles.Host, inodes bool) Check {
	title, warnAt, failAt := "Free space of the data directory", float64(h.Disk.WarnUsed), float64(h.Disk.FailUsed)
	if inodes {
		title, warnAt, failAt = "Free inodes of the data directory", float64(h.Disk.WarnInodes), float64(h.Disk.FailInodes)
	}
	return check{id, title, func(ctx context.Context, t *Target) Result {
		dir := existingDir(t.Root, h.DataDir)
		want := fmt.Sprintf("used < %.0f%% (warn), < %.0f%% (fail)", warnAt, failAt)
		if failAt == 0 {
			return skip("the profile sets no threshold")
		}
		u, err := disk.UsageWithContext(ctx, dir)
		if err != nil {
			return couldNot(want, err, "")
		}
		used, got := u.UsedPercent, fmt.Sprintf("%.1f%% used of %s at %s", u.UsedPercent, gib(u.Total), dir)
		if inodes {
			used, got = u.InodesUsedPercent, fmt.Sprintf("%.1f%% of %d inodes used at %s", u.InodesUsedPercent, u.InodesTotal, dir)
		}
		if !inodes && h.Disk.MinFree > 0 && u.Free < uint64(h.Disk.MinFree.Bytes()) {
			return failed(want+", free >= "+h.Disk.MinFree.String(), got+", free "+gib(u.Free), "free space or give the data directory a larger disk")
		}
		switch {
		case used >= failAt:
			return failed(want, got, "free space or give the data directory a larger disk")
		case used >= warnAt:
			return warn(want, got, "plan more space: WAL retained for the CDC slot grows when the legacy side falls behind")
		}
		return pass(want, got)
	}}
}

// checkOsArch is os.arch: CPU architecture.
func checkOsArch(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		c, err := hostFS{t.Root}.cpuInfo()
		arch := c.arch
		if err != nil || arch == "" {
			if !live(t) {
				return couldNot(strings.Join(h.Arch, " or "), fmt.Errorf("read /proc/cpuinfo: %v", err), "")
			}
			arch = runtime.GOARCH
		}
		if len(h.Arch) == 0 || slices.Contains(h.Arch, arch) {
			return pass(strings.Join(h.Arch, " or "), arch)
		}
		return failed(strings.Join(h.Arch, " or "), arch, "this profile is for "+strings.Join(h.Arch, "/")+" servers: use the matching bundle and profile for this host")
	}
}

// checkCpuModel is cpu.model: CPU model.
func checkCpuModel(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		c, err := hostFS{t.Root}.cpuInfo()
		if err != nil {
			return couldNot(strings.Join(h.CPUModels, " or "), err, "")
		}
		want := strings.Join(h.CPUModels, " or ")
		if len(h.CPUModels) == 0 {
			return pass("any", c.model)
		}
		for _, m := range h.CPUModels {
			if strings.Contains(strings.ToLower(c.model), strings.ToLower(m)) {
				return pass(want, c.model)
			}
		}
		return failed(want, c.model, "the profile expects "+want+" (Kunpeng 920: CPU implementer 0x48, part 0xd01 in /proc/cpuinfo); choose the profile of this hardware")
	}
}

// checkCpuCores is cpu.cores: CPU cores.
func checkCpuCores(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		c, err := hostFS{t.Root}.cpuInfo()
		if err != nil {
			return couldNot(fmt.Sprintf(">= %d", h.MinCores), err, "")
		}
		if c.processors >= h.MinCores {
			return pass(fmt.Sprintf(">= %d", h.MinCores), strconv.Itoa(c.processors))
		}
		return failed(fmt.Sprintf(">= %d", h.MinCores), strconv.Itoa(c.processors), "give the host more cores, or use a profile sized for it")
	}
}

// checkCpuNuma is cpu.numa: NUMA nodes.
func checkCpuNuma(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		nodes, _ := filepath.Glob(hostFS{t.Root}.path("/sys/devices/system/node/node[0-9]*"))
		if len(nodes) == 0 {
			return pass("reported", "1 (no NUMA information)")
		}
		return pass("reported", strconv.Itoa(len(nodes)))
	}
}

// checkMemTotal is mem.total: physical memory.
func checkMemTotal(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		mem, _, err := hostFS{t.Root}.memInfo()
		want := ">= " + h.MinMemory.String()
		if err != nil {
			return couldNot(want, err, "")
		}
		if mem >= uint64(h.MinMemory.Bytes())*95/100 { // firmware keeps a little
			return pass(want, gib(mem))
		}
		return failed(want, gib(mem), "add memory or use a profile sized for this host")
	}
}

// checkMemSwap is mem.swap: swap no larger than memory.
func checkMemSwap(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		mem, swap, err := hostFS{t.Root}.memInfo()
		if err != nil {
			return couldNot("<= memory", err, "")
		}
		if swap <= mem {
			return pass("<= "+gib(mem), gib(swap))
		}
		return warn("<= "+gib(mem), gib(swap), "openGauss recommends little or no swap: reduce it (swapoff, /etc/fstab)")
	}
}

// checkOsRelease is os.release: operating system.
func checkOsRelease(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		rel, err := hostFS{t.Root}.osRelease()
		var want []string
		for _, o := range h.OS {
			want = append(want, strings.TrimSpace(o.ID+" "+strings.Join(o.Versions, "/")))
		}
		if err != nil {
			return couldNot(strings.Join(want, ", "), err, "")
		}
		got := rel["ID"] + " " + rel["VERSION_ID"]
		if len(h.OS) == 0 {
			return pass("any", got)
		}
		for _, o := range h.OS {
			if !strings.EqualFold(o.ID, rel["ID"]) {
				continue
			}
			if len(o.Versions) == 0 {
				return pass(strings.Join(want, ", "), got)
			}
			for _, v := range o.Versions {
				if strings.HasPrefix(strings.ToLower(rel["VERSION_ID"]), strings.ToLower(v)) {
					return pass(strings.Join(want, ", "), got)
				}
			}
		}
		return failed(strings.Join(want, ", "), got+" ("+rel["PRETTY_NAME"]+")", "install a supported OS for this profile, or choose the profile of this OS")
	}
}

// checkOsKernel is os.kernel: kernel version.
func checkOsKernel(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		v, err := hostFS{t.Root}.read("/proc/sys/kernel/osrelease")
		if err != nil {
			return couldNot("reported", err, "")
		}
		return pass("reported", v)
	}
}

// checkOsThp is os.thp: transparent huge pages.
func checkOsThp(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		if h.THP == "" {
			return skip("the profile does not care")
		}
		got, err := hostFS{t.Root}.selected("/sys/kernel/mm/transparent_hugepage/enabled")
		if err != nil {
			return couldNot(h.THP, err, "")
		}
		if got == h.THP {
			return pass(h.THP, got)
		}
		r := failed(h.THP, got, "echo "+h.THP+" > /sys/kernel/mm/transparent_hugepage/enabled, and add transparent_hugepage="+h.THP+" to the kernel command line (xckit check --fix)")
		r.Fix = &Fix{Kind: "thp", Key: "enabled", Value: h.THP}
		return r
	}
}

// checkDiskScheduler is disk.scheduler: i/O scheduler of the disks.
func checkDiskScheduler(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		want := strings.Join(h.IOScheduler, " or ")
		if len(h.IOScheduler) == 0 {
			return skip("the profile does not care")
		}
		files, _ := filepath.Glob(hostFS{t.Root}.path("/sys/block/*/queue/scheduler"))
		var bad, seen []string
		for _, f := range files {
			dev := filepath.Base(filepath.Dir(filepath.Dir(f)))
			if strings.HasPrefix(dev, "loop") || strings.HasPrefix(dev, "ram") || strings.HasPrefix(dev, "dm-") {
				continue
			}
			rel := strings.TrimPrefix(f, t.Root)
			sch, err := hostFS{t.Root}.selected(rel)
			if err != nil {
				continue
			}
			seen = append(seen, dev+"="+sch)
			if !slices.Contains(h.IOScheduler, sch) {
				bad = append(bad, dev+"="+sch)
			}
		}
		if len(seen) == 0 {
			return skip("no block devices to inspect")
		}
		if len(bad) > 0 {
			return failed(want, strings.Join(seen, " "), "set the data disk's scheduler: echo mq-deadline > /sys/block/<dev>/queue/scheduler, and persist it with a udev rule")
		}
		return pass(want, strings.Join(seen, " "))
	}
}

// checkDiskFs is disk.fs: filesystem of the data directory.
func checkDiskFs(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		dir := existingDir(t.Root, h.DataDir)
		mounts, err := hostFS{t.Root}.read("/proc/mounts")
		if err != nil {
			return couldNot("ext4 or xfs", err, "")
		}
		rel := strings.TrimPrefix(dir, strings.TrimRight(t.Root, "/"))
		if rel == "" {
			rel = "/"
		}
		best, fs, opts := "", "", ""
		for _, line := range strings.Split(mounts, "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && (rel == f[1] || strings.HasPrefix(rel, strings.TrimRight(f[1], "/")+"/")) && len(f[1]) >= len(best) {
				best, fs, opts = f[1], f[2], f[3]
			}
		}
		got := fmt.Sprintf("%s on %s (%s)", fs, best, opts)
		if fs == "ext4" || fs == "xfs" {
			return pass("ext4 or xfs", got)
		}
		return warn("ext4 or xfs", got, "openGauss data belongs on ext4 or xfs; check the data disk's filesystem")
	}
}

// checkTimeSync is time.sync: time synchronisation.
func checkTimeSync(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		if !h.TimeSync {
			return skip("the profile does not require it")
		}
		if name, ok := (hostFS{t.Root}).processRunning("chronyd", "ntpd", "systemd-timesyn"); ok {
			return pass("chronyd or ntpd running", name+" running")
		}
		return failed("chronyd or ntpd running", "none running", "start time synchronisation (systemctl enable --now chronyd): the CDC's lag and the reports rely on clocks that agree")
	}
}

// checkOsFirewall is os.firewall: firewall.
func checkOsFirewall(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		if name, ok := (hostFS{t.Root}).processRunning("firewalld"); ok {
			return warn("ports of the profile open", name+" running", "open the platform's and openGauss's ports (firewall-cmd --add-port=...), or stop firewalld if the site's policy allows")
		}
		return pass("no host firewall, or ports open", "firewalld not running")
	}
}

// checkOsSelinux is os.selinux: SELinux.
func checkOsSelinux(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		v, err := hostFS{t.Root}.read("/sys/fs/selinux/enforce")
		if err != nil || v == "0" {
			return pass("not enforcing", map[bool]string{true: "disabled", false: "permissive"}[err != nil])
		}
		return warn("not enforcing", "enforcing", "openGauss's installer expects SELinux disabled or permissive (setenforce 0; SELINUX=permissive in /etc/selinux/config)")
	}
}

// checkNetHostname is net.hostname: hostname resolves.
func checkNetHostname(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		name, err := hostFS{t.Root}.read("/proc/sys/kernel/hostname")
		if err != nil {
			return couldNot("resolvable", err, "")
		}
		if hosts, err := (hostFS{t.Root}).read("/etc/hosts"); err == nil {
			for _, line := range strings.Split(hosts, "\n") {
				if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[0], "#") && slices.Contains(f[1:], name) {
					return pass("resolvable", name+" -> "+f[0]+" (/etc/hosts)")
				}
			}
		}
		if live(t) {
			if addrs, err := net.DefaultResolver.LookupHost(ctx, name); err == nil && len(addrs) > 0 {
				return pass("resolvable", name+" -> "+addrs[0])
			}
		}
		return failed("resolvable", name+" does not resolve", "add the host's name and address to /etc/hosts")
	}
}

// checkNetPorts is net.ports: ports of the profile are free.
func checkNetPorts(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		if len(h.Ports) == 0 {
			return skip("the profile lists no ports")
		}
		if !live(t) {
			return skip("ports are checked on the live host only")
		}
		var busy []string
		for _, port := range h.Ports {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
			if err != nil {
				busy = append(busy, strconv.Itoa(port))
				continue
			}
			ln.Close()
		}
		want := fmt.Sprint(h.Ports)
		if len(busy) > 0 {
			return failed(want+" free", "in use: "+strings.Join(busy, ", "), "stop what listens there (ss -ltnp) or change the ports in the site's configuration")
		}
		return pass(want+" free", "free")
	}
}

// checkOsIrqbalance is os.irqbalance: irqbalance.
func checkOsIrqbalance(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	return func(ctx context.Context, t *Target) Result {
		if _, ok := (hostFS{t.Root}).processRunning("irqbalance"); ok {
			return pass("running", "running")
		}
		return warn("running", "not running", "spread interrupts over the cores: systemctl enable --now irqbalance (or bind NIC queues by hand, as the Kunpeng tuning guide describes)")
	}
}

// checkCpuGovernor is cpu.governor: CPU frequency governor.
func checkCpuGovernor(p *profiles.Profile) func(ctx context.Context, t *Target) Result {
	h := p.Host
	return func(ctx context.Context, t *Target) Result {
		if h.Governor == "" {
			return skip("the profile does not care")
		}
		g, err := hostFS{t.Root}.read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
		if err != nil {
			return skip("no cpufreq on this host (virtual machine or fixed frequency)")
		}
		if g == h.Governor {
			return pass(h.Governor, g)
		}
		return failed(h.Governor, g, "cpupower frequency-set -g "+h.Governor+" (and persist it in the tuned profile)")
	}
}
