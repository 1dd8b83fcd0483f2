package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/profiles"
)

func sample() Results {
	var secs []bench.Second
	for i := range 12 {
		secs = append(secs, bench.Second{T: i, OK: 500, P50: 1.2, P99: 3 + float64(i%3), Max: 9})
	}
	lat, plat := hdrhistogram.New(1, 120_000_000, 3), hdrhistogram.New(1, 120_000_000, 3)
	for i := range 5000 {
		lat.RecordValue(int64(1000 + i%100*30))
		plat.RecordValue(int64(500 + i%100*10))
	}
	enc := func(h *hdrhistogram.Histogram) string {
		b, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		return string(b)
	}
	res := &bench.Resources{PlatformSampled: true, Cores: 2, OtherCPU: 7.5,
		Avg:       bench.ResourceSample{HostCPU: 40, HostMem: 30, DiskWrite: 2 << 20, NetRecv: 1 << 20, NetSent: 1 << 20, GeneratorCPU: 8, PlatformCPU: 9, PlatformMem: 1.5, PlatformRSS: 60 << 20},
		Processes: []bench.ProcessCPU{{Name: "postgres", Role: "system", Procs: 12, CPU: 20}, {Name: "payd", Role: "system", Procs: 1, CPU: 9}, {Name: "mariadbd", Role: "other", Procs: 1, CPU: 7.5}}}
	for i := range 12 {
		res.Samples = append(res.Samples, bench.ResourceSample{T: i + 1, Warmup: i < 2, HostCPU: 38 + float64(i%4), HostMem: 30, GeneratorCPU: 8, PlatformCPU: 9, PlatformMem: 1.5})
	}
	res.Peak = res.Avg
	s := &bench.Summary{Mode: "open", TargetRate: 500, Duration: 10, Ops: 5000, OK: 5000, Achieved: 500, Success: 100,
		Latency: bench.Dist{Count: 5000, Avg: 1.5, P99: 4}, Platform: bench.Dist{Count: 5000, Avg: 0.8, P99: 2}, Seconds: secs,
		LatencyHDR: enc(lat), PlatformHDR: enc(plat), Resources: res}
	bad := *s
	bad.Success = 99.5
	bad.Resources = nil
	c := profiles.Case{Name: "debit", Scenario: "payment.debit", TPS: 500, Duration: profiles.Duration(10 * time.Second), MaxAvgLatency: profiles.Duration(45 * time.Millisecond), MinSuccess: 100}
	c2 := c
	c2.Name, c2.Scenario = "credit", "payment.credit"
	r := Results{Schema: Schema, Kind: "acceptance", Started: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 22, 3, 1, 0, 0, time.UTC),
		Command: "xckit bench acceptance --target http://127.0.0.1:28000", Profile: "lab", Target: "http://127.0.0.1:28000", XckitVer: "test",
		System: map[string]any{"database": "PostgreSQL 15.18"}, Database: map[string]string{"engine": "PostgreSQL 15.18", "shared_buffers": "128MB"}}
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
	if strings.Count(string(html), "<svg") != 7 || !strings.Contains(string(html), "success 99.500%, below 100%") {
		t.Errorf("report.html: %d charts; the failed case's reason must show", strings.Count(string(html), "<svg"))
	}
	for _, want := range []string{"other processes used 7.5% of this host&#39;s CPU", "<td>mariadbd</td><td>other</td>", "latency distribution", "CPU and memory, % of host"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The bundle holds every file, and its checksum file matches it.
	tgz, _ := os.ReadFile(filepath.Join(dir, "evidence.tar.gz"))
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		inside, _ := io.ReadAll(tr)
		outside, _ := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(h.Name, "evidence/")))
		if !bytes.Equal(inside, outside) {
			t.Errorf("%s differs inside the bundle", h.Name)
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "evidence/junit.xml,evidence/report.html,evidence/results.json,evidence/SHA256SUMS" {
		t.Errorf("bundle holds %v", names)
	}
	tsum := sha256.Sum256(tgz)
	if b, _ := os.ReadFile(filepath.Join(dir, "evidence.tar.gz.sha256")); string(b) != hex.EncodeToString(tsum[:])+"  evidence.tar.gz\n" {
		t.Errorf("evidence.tar.gz.sha256: %q", b)
	}
	// The same results give the same bundle.
	again := t.TempDir()
	Write(again, r)
	if b, _ := os.ReadFile(filepath.Join(again, "evidence.tar.gz")); !bytes.Equal(b, tgz) {
		t.Error("evidence.tar.gz is not reproducible")
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
// checks the rendered page has the verdict and the seven charts (four for the case with
// resources: TPS, latency per second, distribution, CPU and memory; three without).
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
	if !strings.Contains(string(dom), ">FAIL<") || strings.Count(string(dom), "<svg") != 7 || !strings.Contains(string(dom), "<polyline") && !strings.Contains(string(dom), "<path") {
		t.Errorf("rendered DOM lacks the verdict or the charts (%d svg)", strings.Count(string(dom), "<svg"))
	}
	if err := exec.Command(bin, append(args, "--window-size=1100,3200", "--screenshot="+shot, "file://"+filepath.Join(dir, "report.html"))...).Run(); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot too small or missing: %v", err)
	}
	// XCKIT_SCREENSHOT_DIR keeps the page and its picture, to be looked at.
	if keep := os.Getenv("XCKIT_SCREENSHOT_DIR"); keep != "" {
		for _, f := range []string{"shot.png", "report.html"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			os.WriteFile(filepath.Join(keep, f), b, 0o644)
		}
	}
	// The charts' tick labels are plain numbers: no "250.00".
	for _, svg := range strings.Split(string(dom), "<svg")[1:] {
		if svg, _, _ = strings.Cut(svg, "</svg>"); strings.Contains(svg, ".00<") || strings.Contains(svg, ".0<") {
			t.Errorf("a tick label with trailing zeros in a chart")
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestResultsSchemaGolden pins the shape of results.json (every field path and its
// JSON type): a field renamed, retyped or removed breaks readers of kept evidence and
// must bump Schema; a field added only extends it.
func TestResultsSchemaGolden(t *testing.T) {
	r := sample()
	r.Repeat = 3
	r.Cases[0].Run = 1
	r.Spreads = bench.Spreads("debit", []*bench.Summary{r.Cases[0].Summary, r.Cases[0].Summary})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(b, &v)
	paths := map[string]bool{}
	var walk func(string, any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if p == ".system_under_test" || p == ".database" || strings.HasSuffix(p, ".errors") { // free-form maps
				paths[p+" object"] = true
				return
			}
			for k, e := range x {
				walk(p+"."+k, e)
			}
		case []any:
			paths[p+" array"] = true
			for _, e := range x {
				walk(p+"[]", e)
			}
		case string:
			paths[p+" string"] = true
		case float64:
			paths[p+" number"] = true
		case bool:
			paths[p+" bool"] = true
		case nil:
			paths[p+" null"] = true
		}
	}
	walk("", v)
	lines := make([]string, 0, len(paths))
	for p := range paths {
		lines = append(lines, p)
	}
	sort.Strings(lines)
	got := fmt.Sprintf("# results.json schema %d: every field path and its JSON type\n%s\n", Schema, strings.Join(lines, "\n"))
	golden := filepath.Join("testdata", "results.schema.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./report -run Golden -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("results.json changed shape; bump report.Schema if it must, then -update.\ngot:\n%s", got)
	}
}

// TestMerge joins two generators' runs: rates add up, each case is judged against the
// profile, a missing case and a repeated run are refused by name.
func TestMerge(t *testing.T) {
	a, b := sample(), sample()
	b.Started = a.Started.Add(-time.Second)
	var cases []profiles.Case
	for _, c := range a.Cases {
		cases = append(cases, c.Case)
	}
	p := &profiles.Profile{Name: "lab", Acceptance: profiles.Acceptance{Cases: cases}}
	m, err := Merge(p, []Results{a, b}, []string{"h1/acceptance", "h2/acceptance"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Cases) != 2 || m.Cases[0].Summary.Achieved != 1000 || !m.Started.Equal(b.Started) || !m.Pass {
		t.Fatalf("merged: %d cases, achieved %.0f, started %v, pass %v", len(m.Cases), m.Cases[0].Summary.Achieved, m.Started, m.Pass)
	}
	if g := m.Cases[0].Summary.Resources.Generators; len(g) != 2 || !strings.Contains(g[1].Host, "h2/acceptance") {
		t.Errorf("generators: %+v", g)
	}
	strict := *p
	strict.Acceptance.Cases = append([]profiles.Case(nil), cases...)
	strict.Acceptance.Cases[0].MaxAvgLatency = profiles.Duration(time.Microsecond)
	if m, err := Merge(&strict, []Results{a, b}, []string{"h1", "h2"}); err != nil || m.Pass || m.Cases[0].Verdict.Pass {
		t.Errorf("a merged case is judged against the profile: %v %+v", err, m.Cases[0].Verdict)
	}
	short := sample()
	short.Cases = short.Cases[:1]
	if _, err := Merge(p, []Results{a, short}, []string{"h1", "h2"}); err == nil || !strings.Contains(err.Error(), "h2 has no case credit") {
		t.Errorf("missing case: %v", err)
	}
	rep := sample()
	rep.Repeat = 3
	if _, err := Merge(p, []Results{a, rep}, []string{"h1", "h2"}); err == nil || !strings.Contains(err.Error(), "--repeat 3") {
		t.Errorf("repeated run: %v", err)
	}
}
