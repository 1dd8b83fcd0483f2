package report

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/profiles"
)

func sample() Results {
	var secs []bench.Second
	for i := range 12 {
		secs = append(secs, bench.Second{T: i, OK: 500, P50: 1.2, P99: 3 + float64(i%3), Max: 9})
	}
	s := &bench.Summary{Mode: "open", TargetRate: 500, Duration: 10, Ops: 5000, OK: 5000, Achieved: 500, Success: 100,
		Latency: bench.Dist{Count: 5000, Avg: 1.5, P99: 4}, Platform: bench.Dist{Count: 5000, Avg: 0.8, P99: 2}, Seconds: secs}
	bad := *s
	bad.Success = 99.5
	c := profiles.Case{Name: "debit", Scenario: "payment.debit", TPS: 500, Duration: profiles.Duration(10 * time.Second), MaxAvgLatency: profiles.Duration(45 * time.Millisecond), MinSuccess: 100}
	c2 := c
	c2.Name, c2.Scenario = "credit", "payment.credit"
	r := Results{Schema: Schema, Kind: "acceptance", Started: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 22, 3, 1, 0, 0, time.UTC),
		Command: "xckit bench acceptance --target http://127.0.0.1:28000", Profile: "lab", Target: "http://127.0.0.1:28000", XckitVer: "test",
		System: map[string]any{"database": "PostgreSQL 15.18"}}
	r.Cases = []Case{{Case: c, Summary: s, Verdict: bench.Judge(c, s)}, {Case: c2, Summary: &bad, Verdict: bench.Judge(c2, &bad)}}
	r.Pass = r.Cases[0].Verdict.Pass && r.Cases[1].Verdict.Pass
	return r
}

func TestEvidence(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, bad := range []string{"http://", "https://", "<script src", "<link"} {
		if strings.Contains(string(html), bad) {
			t.Errorf("report.html must be offline, found %q", bad)
		}
	}
	if i, j := strings.Index(string(html), `id="verdict"`), strings.Index(string(html), "<table"); i < 0 || j < i {
		t.Error("the verdict must come first")
	}
	if strings.Count(string(html), "<svg") != 4 || !strings.Contains(string(html), "success 99.500%, below 100%") {
		t.Errorf("report.html: %d charts; the failed case's reason must show", strings.Count(string(html), "<svg"))
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if !strings.Contains(string(junit), `tests="2" failures="1"`) {
		t.Errorf("junit: %s", junit)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, name, _ := strings.Cut(line, "  ")
		b, _ := os.ReadFile(filepath.Join(dir, name))
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("SHA256SUMS wrong for %s", name)
		}
	}
	back, d, err := Load(dir)
	if err != nil || d != dir || back.Cases[1].Verdict.Pass || back.Pass {
		t.Errorf("load: %v %+v", err, back.Cases)
	}
}

// TestRendersInChromium opens the report in headless Chromium (Debian's package) and
// checks the rendered page has the verdict and the four charts.
func TestRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed (apt-get install chromium, or make setup): %v", err)
	}
	dir := t.TempDir()
	if err := Write(dir, sample()); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + filepath.Join(dir, "profile")}
	dom, err := exec.Command(bin, append(args, "--dump-dom", "file://"+filepath.Join(dir, "report.html"))...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if !strings.Contains(string(dom), ">FAIL<") || strings.Count(string(dom), "<svg") != 4 || !strings.Contains(string(dom), "<polyline") && !strings.Contains(string(dom), "<path") {
		t.Errorf("rendered DOM lacks the verdict or the charts (%d svg)", strings.Count(string(dom), "<svg"))
	}
	if err := exec.Command(bin, append(args, "--window-size=1100,1400", "--screenshot="+shot, "file://"+filepath.Join(dir, "report.html"))...).Run(); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot too small or missing: %v", err)
	}
}
