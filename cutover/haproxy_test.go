package cutover

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHAProxySwitch runs the conformance suite on the haproxy driver against a real
// HAProxy (Debian's package) with two real backends, proving each route by requests
// through it, and checks the errors an operator would meet.
func TestHAProxySwitch(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/haproxy"); err2 != nil {
			t.Fatalf("haproxy is needed (make setup): %v", err)
		}
		bin = "/usr/sbin/haproxy"
	}
	side := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, name) }))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	port := 19610
	conf := fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%d
    default_backend payd
backend payd
    http-response set-header X-Served-By %%[srv_name]
    server paydnew %s
    server paydold %s disabled
`, sock, port, side("new"), side("legacy"))
	cfg := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(cfg, []byte(conf), 0o644)
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v %s", err, out)
	}
	hp := exec.Command(bin, "-db", "-f", cfg)
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Process.Kill(); hp.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := HAProxySwitchConfig{Socket: sock, Backend: "payd", Servers: map[string]string{"new": "paydnew", "legacy": "paydold"},
		SideURL: fmt.Sprintf("http://127.0.0.1:%d/", port)}
	sw, err := NewSwitcher(Switch{Driver: "haproxy", HAProxy: c})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sw.Current(context.Background()); err != nil || got != SideNew {
		t.Fatalf("initial side %q %v, want new", got, err)
	}
	switchConformance(t, sw)

	// Through the balancer, the legacy side really answers after a route to it.
	if err := sw.Route(context.Background(), SideLegacy); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(c.SideURL)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	if strings.TrimSpace(string(b[:n])) != "legacy" {
		t.Errorf("after routing to legacy, %q answered", b[:n])
	}

	// Both sides live (a hand edit during the night) is reported, not guessed at.
	h := sw.(*haproxySwitch)
	if err := h.setState(context.Background(), SideNew, "ready"); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Current(context.Background()); err == nil || !strings.Contains(err.Error(), "both sides") {
		t.Errorf("two live sides: %v", err)
	}
	for _, tc := range []struct {
		name string
		c    HAProxySwitchConfig
		want string
	}{
		{"no socket", HAProxySwitchConfig{Backend: "payd", Servers: c.Servers}, "switch.haproxy.socket"},
		{"no servers", HAProxySwitchConfig{Socket: sock, Backend: "payd"}, "switch.haproxy.servers"},
	} {
		if _, err := NewSwitcher(Switch{Driver: "haproxy", HAProxy: tc.c}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	wrong, _ := NewSwitcher(Switch{Driver: "haproxy", HAProxy: HAProxySwitchConfig{Socket: sock, Backend: "payd",
		Servers: map[string]string{"new": "nosuch", "legacy": "paydold"}}})
	if err := wrong.Route(context.Background(), SideNew); err == nil || !strings.Contains(err.Error(), "No such server") {
		t.Errorf("an unknown server: %v", err)
	}
	gone, _ := NewSwitcher(Switch{Driver: "haproxy", HAProxy: HAProxySwitchConfig{Socket: filepath.Join(dir, "nosock"), Backend: "payd", Servers: c.Servers}})
	if _, err := gone.Current(context.Background()); err == nil || !strings.Contains(err.Error(), "runtime API") {
		t.Errorf("a missing socket: %v", err)
	}
}
