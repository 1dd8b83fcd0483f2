package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/profiles"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runOn(t *testing.T, profile, root string, ignore ...string) Report {
	t.Helper()
	p, err := profiles.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ForProfile(p, []string{"host"})
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), list, &Target{Root: root, Profile: p}, ignore)
}

func statusOf(r Report) map[string]Result {
	m := map[string]Result{}
	for _, c := range r.Checks {
		m[c.ID] = c
	}
	return m
}

// TestFixtureHosts judges the two fixture servers made from public documentation of
// Kylin V10 and EulerOS 2.0 on Kunpeng 920.
func TestFixtureHosts(t *testing.T) {
	t.Parallel()
	kylin := statusOf(runOn(t, "kunpeng920-kylinv10", "testdata/hosts/kylin-v10-kunpeng920"))
	for _, id := range []string{"os.arch", "cpu.model", "cpu.cores", "mem.total", "os.release", "os.thp", "os.limits.nofile",
		"os.limits.nproc", "os.sysctl.net.core.somaxconn", "os.sysctl.kernel.sem", "os.sysctl.vm.min_free_kbytes", "time.sync", "net.hostname", "cpu.governor", "disk.scheduler"} {
		if r := kylin[id]; r.Status != Pass {
			t.Errorf("kylin fixture %s: %s (expected %q, actual %q)", id, r.Status, r.Expected, r.Actual)
		}
	}
	if kylin["cpu.model"].Actual != "Kunpeng 920" || kylin["cpu.numa"].Actual != "2" {
		t.Errorf("kunpeng detection: %+v %+v", kylin["cpu.model"], kylin["cpu.numa"])
	}
	euler := statusOf(runOn(t, "kunpeng920-euleros2", "testdata/hosts/euleros2-kunpeng920"))
	for id, want := range map[string]Status{
		"os.release": Pass, "cpu.model": Pass,
		"os.sysctl.net.core.somaxconn": Fail, "os.sysctl.net.ipv4.tcp_keepalive_time": Fail, "os.sysctl.kernel.sem": Fail,
		"os.sysctl.vm.swappiness": Fail, "os.thp": Fail, "os.limits.nofile": Fail, "time.sync": Fail, "os.firewall": Warn,
		"os.sysctl.net.ipv4.tcp_syncookies": Pass,
	} {
		if r := euler[id]; r.Status != want {
			t.Errorf("euleros fixture %s: %s, want %s (%q vs %q)", id, r.Status, want, r.Expected, r.Actual)
		}
		if r := euler[id]; r.Status == Fail && (r.Remedy == "" || r.Expected == "" || r.Actual == "") {
			t.Errorf("%s fails without expected, actual and remedy: %+v", id, r)
		}
	}
	// The Kylin profile on the EulerOS host fails the OS check with a remedy.
	wrong := statusOf(runOn(t, "kunpeng920-kylinv10", "testdata/hosts/euleros2-kunpeng920"))
	if r := wrong["os.release"]; r.Status != Fail || !strings.Contains(r.Actual, "euleros 2.0") {
		t.Errorf("kylin profile on euleros: %+v", r)
	}
}

func TestThisMachineLive(t *testing.T) {
	t.Parallel()
	r := runOn(t, "kunpeng920-kylinv10", "/")
	n := 0
	for _, c := range r.Checks {
		if c.Status != Skip {
			n++
			if c.Expected == "" || c.Actual == "" {
				t.Errorf("%s has no expected/actual: %+v", c.ID, c)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d host checks ran, want at least 20", n)
	}
	m := statusOf(r)
	// This build machine is not a Kunpeng: the CPU check must say so.
	if !strings.Contains(m["cpu.model"].Actual, "Kunpeng") && (m["cpu.model"].Status != Fail || m["cpu.model"].Remedy == "") {
		t.Errorf("cpu.model on this machine: %+v", m["cpu.model"])
	}
	if m["os.release"].Status != Fail {
		t.Errorf("os.release on Debian with the Kylin profile: %+v", m["os.release"])
	}
}

func TestIgnoreTurnsFailureIntoWarning(t *testing.T) {
	t.Parallel()
	r := runOn(t, "kunpeng920-euleros2", "testdata/hosts/euleros2-kunpeng920", "os.thp")
	m := statusOf(r)
	if m["os.thp"].Status != Warn || !m["os.thp"].Ignored {
		t.Errorf("ignored os.thp: %+v", m["os.thp"])
	}
	for _, id := range r.Failed() {
		if id == "os.thp" {
			t.Error("an ignored check is not a failure")
		}
	}
}

func TestExpectations(t *testing.T) {
	t.Parallel()
	mem := uint64(256 << 30)
	cases := []struct {
		want, got string
		ok        bool
	}{
		{">=65535", "65535", true}, {">=65535", "128", false}, {"<=10", "0", true}, {"<=10", "30", false},
		{"1", "1", true}, {"1", "0", false}, {">=250 6400000 1000 25600", "250 6400000 1000 25600", true},
		{">=250 6400000 1000 25600", "32000 1024000000 500 32000", false}, {">=8192 250000 16777216", "8192 250000 16777216", true},
		{"~5%mem", "13421772", true}, {"~5%mem", "45056", false}, {"logical", "logical", true}, {"logical", "replica", false},
		{">=8GB", "8GB", true}, {">=8GB", "128MB", false}, {">=1000", "100", false},
	}
	for _, c := range cases {
		ok, err := ParseExpectation(c.want).Met(c.got, mem)
		if err != nil || ok != c.ok {
			t.Errorf("%q vs %q: %v %v, want %v", c.want, c.got, ok, err, c.ok)
		}
	}
}

// TestRenderGolden renders a fixed report in all three formats.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r := runOn(t, "kunpeng920-euleros2", "testdata/hosts/euleros2-kunpeng920", "os.firewall")
	r.Seconds = 0.5
	r.Started = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	for i := range r.Checks { // the disk checks read this machine's disk: fix them
		if strings.HasPrefix(r.Checks[i].ID, "disk.space") || strings.HasPrefix(r.Checks[i].ID, "disk.inodes") {
			r.Checks[i].Actual = "fixed for the golden file"
			r.Checks[i].Status = Pass
		}
	}
	r.Summary = map[Status]int{}
	for _, c := range r.Checks {
		r.Summary[c.Status]++
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"report.txt":  func(b *bytes.Buffer) error { return WriteText(b, r, false) },
		"report.json": func(b *bytes.Buffer) error { return WriteJSON(b, r) },
		"report.xml":  func(b *bytes.Buffer) error { return WriteJUnit(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			os.WriteFile(golden, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test ./checks -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs from the golden file:\n%s", name, b.String())
		}
	}
	var doc map[string]any
	b, _ := os.ReadFile("testdata/golden/report.json")
	if json.Unmarshal(b, &doc) != nil || doc["schema"] != float64(1) {
		t.Error("JSON report must carry schema 1")
	}
}

func TestFixInFixtureRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/hosts/euleros2-kunpeng920")); err != nil {
		t.Fatal(err)
	}
	r := runOn(t, "kunpeng920-euleros2", root)
	plan, err := PlanFixes(root, r)
	if err != nil || len(plan.Changes) == 0 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	if err := ApplyFixes(root, plan); err != nil {
		t.Fatal(err)
	}
	after := statusOf(runOn(t, "kunpeng920-euleros2", root))
	for _, id := range []string{"os.thp", "os.limits.nofile", "os.sysctl.net.core.somaxconn", "os.sysctl.kernel.sem"} {
		if after[id].Status != Pass {
			t.Errorf("after --fix --yes, %s: %+v", id, after[id])
		}
	}
	if after["time.sync"].Status != Fail {
		t.Error("time.sync has no automatic fix and must still fail")
	}
	conf, _ := os.ReadFile(filepath.Join(root, SysctlFile))
	if !strings.Contains(string(conf), "net.core.somaxconn = 65535") {
		t.Errorf("persisted sysctl file:\n%s", conf)
	}
	// Twice changes nothing.
	again, _ := PlanFixes(root, runOn(t, "kunpeng920-euleros2", root))
	if len(again.Changes) != 0 {
		t.Errorf("second plan: %v", again.Changes)
	}
}

// A check is a named function of its profile, testable alone: here the CPU checks on a
// Kunpeng 920 fixture root, against profiles that fit and do not fit it.
func TestChecksStandAlone(t *testing.T) {
	root := filepath.Join("testdata", "hosts", "kylin-v10-kunpeng920")
	for _, c := range []struct {
		name  string
		run   func(ctx context.Context, t *Target) Result
		wants Status
	}{
		{"arch fits", checkOsArch(&profiles.Profile{Host: profiles.Host{Arch: []string{"arm64"}}}), Pass},
		{"arch does not", checkOsArch(&profiles.Profile{Host: profiles.Host{Arch: []string{"amd64"}}}), Fail},
		{"cores fit", checkCpuCores(&profiles.Profile{Host: profiles.Host{MinCores: 2}}), Pass},
		{"too few cores", checkCpuCores(&profiles.Profile{Host: profiles.Host{MinCores: 100000}}), Fail},
	} {
		r := c.run(context.Background(), &Target{Root: root})
		if r.Status != c.wants {
			t.Errorf("%s: %s (%s), want %s", c.name, r.Status, r.Actual, c.wants)
		}
	}
}
