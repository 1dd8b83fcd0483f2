package cutover

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Side is where traffic goes.
type Side string

const (
	SideNew    Side = "new"
	SideLegacy Side = "legacy"
	SideNone   Side = "none" // drained: the balancer answers 503
)

// Switcher is a traffic switch driver.
type Switcher interface {
	Route(ctx context.Context, to Side) error
	Current(ctx context.Context) (Side, error)
	Drain(ctx context.Context) error
}

// NewSwitcher builds the driver a site names.
func NewSwitcher(s Switch) (Switcher, error) {
	switch s.Driver {
	case "nginx":
		return &nginxSwitch{c: s.Nginx}, nil
	case "haproxy":
		return newHAProxySwitch(s.HAProxy)
	case "exec":
		return &execSwitch{c: s.Exec}, nil
	}
	return nil, fmt.Errorf("switch.driver %q: use nginx, haproxy or exec", s.Driver)
}

// NginxSwitchConfig drives an nginx that includes RouteFile inside its server block.
type NginxSwitchConfig struct {
	Binary    string            `yaml:"binary"` // default: nginx on PATH or /usr/sbin/nginx
	Args      []string          `yaml:"args"`   // -p/-c/-e for nginx -t
	PidFile   string            `yaml:"pid_file"`
	RouteFile string            `yaml:"route_file"`
	Upstreams map[string]string `yaml:"upstreams"` // side -> host:port
	SideURL   string            `yaml:"side_url"`  // answers the routed side's name
}

type nginxSwitch struct{ c NginxSwitchConfig }

func (n *nginxSwitch) render(to Side) (string, error) {
	if to == SideNone {
		return fmt.Sprintf("# written by xckit: drained\nset $xckit_side \"none\";\nlocation / {\n    default_type application/json;\n    return 503 '{\"error\":\"drained\",\"message\":\"traffic is being switched: retry shortly\"}\\n';\n}\n"), nil
	}
	up, ok := n.c.Upstreams[string(to)]
	if !ok {
		return "", fmt.Errorf("switch.nginx.upstreams has no %s", to)
	}
	return fmt.Sprintf(`# written by xckit: where the balancer sends traffic
set $xckit_side "%s";
location / {
    proxy_pass http://%s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_connect_timeout 2s;
    proxy_read_timeout 30s;
}
`, to, up), nil
}

// Route rewrites the include atomically, tests the configuration, reloads nginx and
// proves the route with a probe; on a failed test the old file is put back.
func (n *nginxSwitch) Route(ctx context.Context, to Side) error {
	conf, err := n.render(to)
	if err != nil {
		return err
	}
	old, _ := os.ReadFile(n.c.RouteFile)
	tmp := n.c.RouteFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, n.c.RouteFile); err != nil {
		return err
	}
	bin := n.c.Binary
	if bin == "" {
		if p, err := exec.LookPath("nginx"); err == nil {
			bin = p
		} else {
			bin = "/usr/sbin/nginx"
		}
	}
	if out, err := exec.CommandContext(ctx, bin, append(n.c.Args, "-t", "-q")...).CombinedOutput(); err != nil {
		if rerr := os.WriteFile(n.c.RouteFile, old, 0o644); rerr != nil {
			return fmt.Errorf("nginx -t refused the new route (%v %s) AND the old route could not be put back (%v): fix %s before nginx reloads", err, out, rerr, n.c.RouteFile)
		}
		return fmt.Errorf("nginx -t refused the new route (the old one is back): %v %s", err, out)
	}
	b, err := os.ReadFile(n.c.PidFile)
	if err != nil {
		return fmt.Errorf("nginx pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("nginx pid file %s: %q is not a process id", n.c.PidFile, strings.TrimSpace(string(b)))
	}
	// The workers running now still accept connections with the old route until
	// they hear of the reload; a single probe answered by a new worker proves
	// nothing about the next request. Wait until every old worker has stopped
	// accepting (gone, or "shutting down") and the route answers consistently.
	oldWorkers := childProcesses(pid)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload nginx (pid %d): %w", pid, err)
	}
	return untilAgreed(ctx, func(ctx context.Context) (bool, string) {
		cur, err := n.Current(ctx)
		if !oldWorkersRetired(oldWorkers) {
			return false, "old nginx workers still accepting"
		}
		return err == nil && cur == to, fmt.Sprintf("reports %q %v", cur, err)
	}, fmt.Sprintf("the balancer does not report %s 10 s after the reload", to))
}

// untilAgreed polls ok until it holds three times in a row (one probe answered the
// new way proves little about the next request), for at most 10 s; failing names
// what the last poll saw.
func untilAgreed(ctx context.Context, ok func(context.Context) (bool, string), failure string) error {
	deadline := time.Now().Add(10 * time.Second)
	agreed, last := 0, ""
	for time.Now().Before(deadline) {
		var good bool
		if good, last = ok(ctx); good {
			if agreed++; agreed >= 3 {
				return nil
			}
		} else {
			agreed = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s (last: %s)", failure, last)
}

// childProcesses lists the pids whose parent is pid (nginx's workers), from /proc.
func childProcesses(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, c)
		}
	}
	return kids
}

// oldWorkersRetired reports whether every pid has exited or announces that it is
// shutting down (nginx closes its listening sockets as it retitles itself).
func oldWorkersRetired(pids []int) bool {
	for _, p := range pids {
		cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
		if err != nil || len(cmd) == 0 {
			continue // gone (or a zombie being reaped)
		}
		s := string(cmd)
		if strings.Contains(s, "worker process") && !strings.Contains(s, "shutting down") {
			return false
		}
	}
	return true
}

// probeClient opens a fresh connection per probe: a kept-alive one could stay with
// a worker that still has the old route.
var probeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func (n *nginxSwitch) Current(ctx context.Context) (Side, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.c.SideURL, nil)
	if err != nil {
		return "", fmt.Errorf("switch.nginx.side_url %q: %w", n.c.SideURL, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	return Side(strings.TrimSpace(string(b))), nil
}

func (n *nginxSwitch) Drain(ctx context.Context) error { return n.Route(ctx, SideNone) }

// ExecSwitchConfig runs site commands (F5 tmsh, DNS, keepalived). {{side}} in a command
// is replaced by new, legacy or none.
type ExecSwitchConfig struct {
	Route   string        `yaml:"route"`   // e.g. tmsh modify ltm pool pay_pool members replace-all-with { {{side}}_member }
	Current string        `yaml:"current"` // prints new, legacy or none
	Timeout time.Duration `yaml:"timeout"`
}

type execSwitch struct{ c ExecSwitchConfig }

func (e *execSwitch) run(ctx context.Context, cmd string, side Side) (string, error) {
	t := e.c.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(cmd, "{{side}}", string(side))).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("switch command failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func (e *execSwitch) Route(ctx context.Context, to Side) error {
	_, err := e.run(ctx, e.c.Route, to)
	return err
}

func (e *execSwitch) Current(ctx context.Context) (Side, error) {
	out, err := e.run(ctx, e.c.Current, "")
	return Side(out), err
}

func (e *execSwitch) Drain(ctx context.Context) error { return e.Route(ctx, SideNone) }
