package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xckit/xckit/internal/labtest"
)

func TestAcceptanceOnTheLab(t *testing.T) {
	env := labtest.Ensure(t)
	t.Setenv("XCKIT_MERCHANT_ID", env.MerchantID)
	t.Setenv("XCKIT_MERCHANT_KEY", env.MerchantKey)
	// A modest rate with generous limits: the lab's own 500 TPS case runs in make demo;
	// here the machine is shared with every other test package.
	modest := filepath.Join(t.TempDir(), "modest.yaml")
	os.WriteFile(modest, []byte("name: modest\nextends: lab\nacceptance:\n  cases:\n    - name: debit\n      scenario: payment.debit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 2s\n      min_success: 100%\n    - name: credit\n      scenario: payment.credit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 2s\n      min_success: 100%\n"), 0o644)
	out := t.TempDir()
	code, stdout, errs := runCLI(t, "bench", "acceptance", "--profile", modest, "--target", env.LegacyURL, "--scale", "0.1", "--out", out)
	if code != 0 || !strings.Contains(stdout, "PASS") {
		t.Fatalf("acceptance on the lab: exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, f := range []string{"results.json", "junit.xml", "report.html", "SHA256SUMS"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("evidence lacks %s", f)
		}
	}
	if code, _, _ := runCLI(t, "report", out); code != 0 {
		t.Errorf("xckit report: exit %d", code)
	}
	// An impossible threshold fails, with the reason.
	prof := filepath.Join(t.TempDir(), "strict.yaml")
	os.WriteFile(prof, []byte("name: strict\nextends: lab\nacceptance:\n  cases:\n    - name: debit\n      scenario: payment.debit\n      tps: 100\n      duration: 20s\n      max_avg_latency: 1us\n      min_success: 100%\n"), 0o644)
	code, stdout, _ = runCLI(t, "bench", "acceptance", "--profile", prof, "--target", env.LegacyURL, "--scale", "0.1", "--out", t.TempDir())
	if code != 1 || !strings.Contains(stdout, "FAIL: platform time average") || !strings.Contains(stdout, "above the limit 1µs") {
		t.Errorf("impossible threshold: exit %d\n%s", code, stdout)
	}
}
