package cdc

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
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
