package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/report"
)

func TestAcceptanceOnTheLab(t *testing.T) {
	env := labtest.Ensure(t)
	t.Setenv("XCKIT_MERCHANT_ID", env.MerchantID)
	t.Setenv("XCKIT_MERCHANT_KEY", env.MerchantKey)
	// A modest rate with generous limits: the lab's own 500 TPS case runs in make demo;
	// here the machine is shared with every other test package (a CI run with the lab
	// profile itself saw a 72 ms average while the ansible and cutover tests ran).
	modest := filepath.Join(t.TempDir(), "modest.yaml")
	os.WriteFile(modest, []byte("name: modest\nextends: lab\nacceptance:\n  cases:\n    - name: debit\n      scenario: payment.debit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 2s\n      min_success: 100%\n    - name: credit\n      scenario: payment.credit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 2s\n      min_success: 100%\n"), 0o644)
	out := t.TempDir()
	code, stdout, errs := runCLI(t, "bench", "acceptance", "--profile", modest, "--target", env.LegacyURL, "--scale", "0.1", "--out", out,
		"--db", env.LegacyDSN)
	if code != 0 || !strings.Contains(stdout, "PASS") {
		t.Fatalf("acceptance on the lab: exit %d\n%s\n%s", code, stdout, errs)
	}
	if !strings.Contains(stdout, "CPU %") || strings.Contains(stdout, "PASS\n") && strings.Contains(stdout, " -  ") {
		t.Errorf("the platform's CPU and memory are missing:\n%s", stdout)
	}
	for _, f := range []string{"results.json", "junit.xml", "report.html", "SHA256SUMS", "evidence.tar.gz", "evidence.tar.gz.sha256"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("evidence lacks %s", f)
		}
	}
	if code, _, _ := runCLI(t, "report", out); code != 0 {
		t.Errorf("xckit report: exit %d", code)
	}
	r, _, err := report.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Database["engine"] == "" || r.Database["innodb_flush_log_at_trx_commit"] == "" {
		t.Errorf("the database fingerprint is missing: %v", r.Database)
	}
	for _, c := range r.Cases {
		res := c.Summary.Resources
		if res == nil || !res.PlatformSampled || res.Avg.PlatformCPU <= 0 || res.Avg.PlatformRSS <= 0 || len(res.Samples) < 2 || len(res.Processes) == 0 {
			t.Errorf("case %s: resources not sampled: %+v", c.Case.Name, res)
		}
	}

	// Capacity: every rate tried met the limits (so say how to look further), or none did.
	code, stdout, errs = runCLI(t, "bench", "capacity", "--profile", modest, "--target", env.LegacyURL, "--start", "50", "--step", "50",
		"--max", "100", "--duration", "2s", "--warmup", "0s")
	if code != 0 || !strings.Contains(stdout, "highest debit rate meeting profile modest's limits: 100 TPS") || !strings.Contains(stdout, "raise --max 100") {
		t.Errorf("capacity: exit %d\n%s\n%s", code, stdout, errs)
	}
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	os.WriteFile(strict, []byte("name: strict\nextends: lab\nacceptance:\n  cases:\n    - {name: debit, scenario: payment.debit, tps: 50, duration: 2s, max_avg_latency: 1us, min_success: 100%}\n"), 0o644)
	code, stdout, _ = runCLI(t, "bench", "capacity", "--profile", strict, "--target", env.LegacyURL, "--start", "50", "--step", "50",
		"--max", "100", "--duration", "2s", "--warmup", "0s")
	if code != 1 || !strings.Contains(stdout, "no debit rate met profile strict's limits: the first tried (50/s) broke them") {
		t.Errorf("capacity with impossible limits: exit %d\n%s", code, stdout)
	}

	// Certification mode: every case twice, and the variation between runs judged.
	rep := t.TempDir()
	code, stdout, errs = runCLI(t, "bench", "acceptance", "--profile", modest, "--target", env.LegacyURL, "--scale", "0.1", "--repeat", "2", "--out", rep)
	if code == 2 || !strings.Contains(stdout, "platform CPU varies") || !strings.Contains(stdout, "debit #2") {
		t.Errorf("--repeat 2: exit %d\n%s\n%s", code, stdout, errs)
	}
	if r, _, err := report.Load(rep); err != nil || r.Repeat != 2 || len(r.Cases) != 4 || len(r.Spreads) < 8 {
		t.Errorf("--repeat 2 results: %v, repeat %d, %d cases, %d spreads", err, r.Repeat, len(r.Cases), len(r.Spreads))
	}

	// A target without the seeded accounts is refused with --no-prepare, and prepared
	// through --db otherwise. (The lab outlives test runs: take the agreement away.)
	db, err := dbx.Open(context.Background(), env.LegacyDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM agreements WHERE id = ?", "ag-seed-4321"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs = runCLI(t, "bench", "run", "--target", env.LegacyURL, "--rate", "50", "--duration", "1s", "--warmup", "0s",
		"--accounts", "4321", "--no-prepare", "--no-resources")
	if code != 2 || !strings.Contains(errs, "has no agreement ag-seed-4321") || !strings.Contains(errs, "--no-prepare") {
		t.Errorf("--no-prepare on an unprepared target: exit %d\n%s", code, errs)
	}
	code, stdout, errs = runCLI(t, "bench", "run", "--scenario", "payment.agreement", "--target", env.LegacyURL, "--rate", "50", "--duration", "2s",
		"--warmup", "0s", "--accounts", "4321", "--db", env.LegacyDSN)
	if code != 0 || !strings.Contains(stdout, "success 100.000%") || !strings.Contains(errs, "prepared the target") {
		t.Errorf("prepare through --db, then payment.agreement: exit %d\n%s\n%s", code, stdout, errs)
	}
	// An impossible threshold fails, with the reason.
	prof := filepath.Join(t.TempDir(), "strict.yaml")
	os.WriteFile(prof, []byte("name: strict\nextends: lab\nacceptance:\n  cases:\n    - name: debit\n      scenario: payment.debit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 1us\n      min_success: 100%\n"), 0o644)
	code, stdout, _ = runCLI(t, "bench", "acceptance", "--profile", prof, "--target", env.LegacyURL, "--scale", "0.1", "--out", t.TempDir())
	if code != 1 || !strings.Contains(stdout, "FAIL: platform time average") || !strings.Contains(stdout, "above the limit 1µs") {
		t.Errorf("impossible threshold: exit %d\n%s", code, stdout)
	}
}
