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
	"time"

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
	s := NewStats()
	s.SourceLSN.Store(5000)
	s.AppliedLSN.Store(3000)
	s.Batch.Observe(30 * time.Millisecond)
	s.Batch.Observe(2 * time.Second)
	s.retried("apply to the target")
	rec := httptest.NewRecorder()
	MetricsHandler(s, "x").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exported := rec.Body.String()
	for _, want := range []string{`xckit_cdc_lag_bytes{slot="x"} 2000`, `xckit_cdc_batch_seconds_bucket{slot="x",le="0.05"} 1`,
		`xckit_cdc_batch_seconds_bucket{slot="x",le="2.5"} 2`, `xckit_cdc_batch_seconds_count{slot="x"} 2`,
		`xckit_cdc_step_retries_total{slot="x",step="apply to the target"} 1`, `xckit_cdc_retained_wal_bytes{slot="x"} -1`} {
		if !strings.Contains(exported, want) {
			t.Errorf("metrics lack %q:\n%s", want, exported)
		}
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

// The lag in seconds: none when the last read found nothing new; the age of the
// last applied commit, or of the moment the lag began, when behind.
func TestStatsLagSeconds(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		name                        string
		source, applied, seen       uint64
		lastCommit, behindSince, at int64 // Unix seconds (0: none)
		want                        float64
	}{
		{"caught up", 5000, 5000, 0, 999_990, 0, 0, 0},
		{"idle, seen past the source", 5000, 3000, 5000, 999_000, 999_990, 0, 0},
		{"behind: the last applied commit's age", 5000, 3000, 0, 999_997, 999_995, 0, 3},
		{"behind before anything applied: since the lag began", 5000, 3000, 0, 0, 999_998, 0, 2},
		{"a read found nothing since", 5000, 3000, 0, 999_000, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewStats()
			s.SourceLSN.Store(c.source)
			s.AppliedLSN.Store(c.applied)
			s.SeenLSN.Store(c.seen)
			if c.lastCommit > 0 {
				s.LastCommitUnixNano.Store(time.Unix(c.lastCommit, 0).UnixNano())
			}
			if c.behindSince > 0 {
				s.BehindSinceUnixNano.Store(time.Unix(c.behindSince, 0).UnixNano())
			}
			if got := s.LagSeconds(now); got != c.want {
				t.Errorf("lag %v, want %v", got, c.want)
			}
		})
	}
}
