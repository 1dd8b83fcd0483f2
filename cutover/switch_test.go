package cutover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// switchConformance is what every traffic switch driver must do.
func switchConformance(t *testing.T, sw Switcher) {
	t.Helper()
	ctx := context.Background()
	for _, to := range []Side{SideNew, SideLegacy, SideNone, SideNew} {
		if err := sw.Route(ctx, to); err != nil {
			t.Fatalf("route %s: %v", to, err)
		}
		if got, err := sw.Current(ctx); err != nil || got != to {
			t.Fatalf("after route %s the switch reports %q (%v)", to, got, err)
		}
	}
	if err := sw.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := sw.Current(ctx); got != SideNone {
		t.Fatalf("after drain: %q", got)
	}
}

// TestExecSwitch runs the conformance suite on the exec driver with site commands that
// keep the side in a file (as an F5 script keeps it in the pool), and checks that a
// failing command and a hanging one are errors, not silence.
func TestExecSwitch(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "side")
	os.WriteFile(state, []byte("legacy\n"), 0o644)
	sw, err := NewSwitcher(Switch{Driver: "exec", Exec: ExecSwitchConfig{
		Route: "echo {{side}} > " + state, Current: "cat " + state, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	switchConformance(t, sw)
	bad, _ := NewSwitcher(Switch{Driver: "exec", Exec: ExecSwitchConfig{Route: "echo refused >&2; exit 3", Current: "true"}})
	if err := bad.Route(context.Background(), SideNew); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a failing switch command must be an error with its output: %v", err)
	}
	slow, _ := NewSwitcher(Switch{Driver: "exec", Exec: ExecSwitchConfig{Route: "sleep 5", Current: "true", Timeout: 200 * time.Millisecond}})
	if err := slow.Route(context.Background(), SideNew); err == nil {
		t.Error("a hanging switch command must time out")
	}
	if _, err := NewSwitcher(Switch{Driver: "f5-magic"}); err == nil {
		t.Error("an unknown driver is an error")
	}
}

// TestNginxSwitch runs the same suite on the nginx driver against a real nginx.
func TestNginxSwitch(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/nginx"); err2 != nil {
			t.Fatalf("nginx is needed (make setup): %v", err)
		}
		bin = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	route := filepath.Join(dir, "route.conf")
	os.WriteFile(route, []byte("set $xckit_side \"none\";\nlocation / { return 503; }\n"), 0o644)
	port := 19600
	userLine := ""
	if os.Geteuid() == 0 {
		userLine = "user root;"
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
    server {
        listen 127.0.0.1:%d;
        include %s;
        location = /__lb/route { default_type text/plain; return 200 "$xckit_side\n"; }
    }
}
`, userLine, dir, dir, dir, dir, dir, dir, port, route)
	confFile := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confFile, []byte(conf), 0o644)
	args := []string{"-p", dir, "-c", confFile, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("start nginx: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command(bin, append(args, "-s", "quit")...).Run() })
	sw, _ := NewSwitcher(Switch{Driver: "nginx", Nginx: NginxSwitchConfig{Binary: bin, Args: args, PidFile: filepath.Join(dir, "nginx.pid"),
		RouteFile: route, Upstreams: map[string]string{"new": "127.0.0.1:1", "legacy": "127.0.0.1:2"}, SideURL: fmt.Sprintf("http://127.0.0.1:%d/__lb/route", port)}})
	switchConformance(t, sw)
	// A route nginx refuses leaves the old one in place.
	broken, _ := NewSwitcher(Switch{Driver: "nginx", Nginx: NginxSwitchConfig{Binary: bin, Args: args, PidFile: filepath.Join(dir, "nginx.pid"),
		RouteFile: route, Upstreams: map[string]string{"new": "not a host;;"}, SideURL: fmt.Sprintf("http://127.0.0.1:%d/__lb/route", port)}})
	before, _ := os.ReadFile(route)
	if err := broken.Route(context.Background(), SideNew); err == nil {
		t.Fatal("nginx -t must refuse a broken route")
	}
	if after, _ := os.ReadFile(route); string(after) != string(before) {
		t.Error("a refused route must leave the previous one in place")
	}
}

func TestReportHTML(t *testing.T) {
	t.Parallel()
	r := Report{Kind: "rollback", Verdict: "ok", RTOSeconds: 1.25, RPO: "0: every transaction", FenceLSN: "0/1",
		Steps: []StepResult{{Name: "drain", Status: "done", Seconds: 0.15}, {Name: "verify", Status: "done", Seconds: 0.4, Detail: "equal"}},
		Nodes: []FencedNode{{Node: "10.0.0.1:5432", Role: "primary", Proof: "refuses writes: role payd is read-only"}, {Node: "10.0.0.2:5432", Role: "standby", Proof: "refuses writes: in recovery"}}}
	b, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "RTO 1.25 s") || !strings.Contains(s, "rollback: ok") || strings.Contains(s, "http://") || !strings.Contains(s, "width:300px") ||
		!strings.Contains(s, "<td>10.0.0.2:5432</td><td>standby</td><td>refuses writes: in recovery</td>") {
		t.Errorf("report html:\n%s", s)
	}
}

// TestOldWorkersRetired finds a process's children in /proc and tells a worker that
// still accepts from one that is shutting down or gone.
func TestOldWorkersRetired(t *testing.T) {
	start := func(title string) *exec.Cmd {
		c := exec.Command("bash", "-c", `exec -a "$0" sleep 30`, title)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	accepting := start("nginx: worker process")
	closing := start("nginx: worker process is shutting down")
	kids := childProcesses(os.Getpid())
	for _, c := range []*exec.Cmd{accepting, closing} {
		if !slices.Contains(kids, c.Process.Pid) {
			t.Fatalf("childProcesses(%d) = %v, missing %d", os.Getpid(), kids, c.Process.Pid)
		}
	}
	cases := []struct {
		name string
		pids []int
		want bool
	}{
		{"none", nil, true},
		{"shutting down", []int{closing.Process.Pid}, true},
		{"still accepting", []int{closing.Process.Pid, accepting.Process.Pid}, false},
		{"gone", []int{1 << 30}, true},
	}
	for _, tc := range cases {
		if got := oldWorkersRetired(tc.pids); got != tc.want {
			t.Errorf("%s: oldWorkersRetired = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// waitReady ends at once when its context does (Ctrl-C during a cutover), not when
// its own deadline passes; and it reports the last answer when that passes.
func TestWaitReadyHonoursTheContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	err := waitReady(ctx, srv.URL, time.Minute)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("after Ctrl-C: %v in %s", err, time.Since(start))
	}
	err = waitReady(context.Background(), srv.URL, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not ready: %v", err)
	}
}
