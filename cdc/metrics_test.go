package cdc

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The counters come out in Prometheus's format with the slot as label; a busy address
// is refused at once.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	s := &Stats{}
	s.Rows.Add(42)
	s.Txns.Add(7)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := ServeMetrics(addr, s, "xckit_cdc")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`xckit_cdc_rows_total{slot="xckit_cdc"} 42`, `xckit_cdc_txns_total{slot="xckit_cdc"} 7`, "# TYPE xckit_cdc_applied_lsn gauge"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	if _, err := ServeMetrics(addr, s, "again"); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a busy metrics address: %v", err)
	}
}

// The alert rules the bundle carries name only metrics cdc run exports (a renamed
// metric would silence an alert), and the lag gauge follows the positions.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	s := &Stats{}
	s.SourceLSN.Store(5000)
	s.AppliedLSN.Store(3000)
	rec := httptest.NewRecorder()
	MetricsHandler(s, "x").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exported := rec.Body.String()
	if !strings.Contains(exported, `xckit_cdc_lag_bytes{slot="x"} 2000`) {
		t.Errorf("lag gauge:\n%s", exported)
	}
	rules, err := os.ReadFile("../packaging/prometheus/xckit-cdc.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(rules, &doc); err != nil || len(doc.Groups) == 0 || len(doc.Groups[0].Rules) < 4 {
		t.Fatalf("rules file: %v %+v", err, doc)
	}
	for _, r := range doc.Groups[0].Rules {
		for _, m := range regexp.MustCompile(`xckit_cdc_[a-z_]+`).FindAllString(r.Expr, -1) {
			if !strings.Contains(exported, "\n"+m+"{") && !strings.HasPrefix(exported, m+"{") {
				t.Errorf("alert %s uses %s, which cdc run does not export", r.Alert, m)
			}
		}
	}
}
