package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lb is the site's load balancer (the "F5" of the reference case): nginx with the
// route in an include file, <dir>/lb/route.conf, that the traffic switch rewrites.
// Until a platform is routed it answers 503 with a clear body.
type lb struct {
	s   State
	log *slog.Logger
	dir string
}

func newLB(s State, log *slog.Logger) *lb {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &lb{s: s, log: log, dir: filepath.Join(s.Dir, "lb")}
}

// RouteFile is the include file that decides where the lab's balancer sends traffic.
func RouteFile(dir string) string { return filepath.Join(dir, "lb", "route.conf") }

// NoRoute is the route file's content before any platform is routed.
const NoRoute = `# written by xckit: where the balancer sends traffic
set $xckit_side "none";
location / {
    default_type application/json;
    return 503 '{"error":"no_platform","message":"no payment platform is routed behind the lab balancer yet"}\n';
}
`

func (b *lb) name() string    { return "lb" }
func (b *lb) conf() string    { return filepath.Join(b.dir, "nginx.conf") }
func (b *lb) pidFile() string { return filepath.Join(b.dir, "nginx.pid") }
func (b *lb) pid() int        { return readPID(b.pidFile()) }
func (b *lb) running() bool   { return alive(b.pid(), "nginx") }

func (b *lb) writeConfig() error {
	tmp := filepath.Join(b.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	userLine := ""
	if os.Geteuid() == 0 {
		// Workers drop to nobody; they need their temp directory.
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			os.Chown(tmp, uid, gid)
			grp := "nogroup"
			if g, err := user.LookupGroupId(u.Gid); err == nil {
				grp = g.Name
			}
			userLine = fmt.Sprintf("user nobody %s;\n", grp)
		}
	}
	conf := fmt.Sprintf(`# xckit lab: the load balancer (the site's F5)
%sworker_processes 1;
pid %s;
error_log %s warn;
events { worker_connections 4096; }
http {
    access_log %s;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:%d;
        location = /__lb/health {
            default_type text/plain;
            return 200 "ok\n";
        }
        include %s;
        location = /__lb/route {
            default_type text/plain;
            return 200 "$xckit_side\n";
        }
    }
}
`, userLine, b.pidFile(), filepath.Join(b.dir, "error.log"), filepath.Join(b.dir, "access.log"),
		tmp, tmp, tmp, tmp, tmp, b.s.LBPort, RouteFile(b.s.Dir))
	if err := writeFileAtomic(b.conf(), []byte(conf), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(RouteFile(b.s.Dir)); os.IsNotExist(err) {
		return writeFileAtomic(RouteFile(b.s.Dir), []byte(NoRoute), 0o644)
	}
	return nil
}

func (b *lb) nginx(ctx context.Context, args ...string) *exec.Cmd {
	bin, _ := findBinary("nginx")
	base := []string{"-p", b.dir, "-c", b.conf(), "-e", filepath.Join(b.dir, "error.log")}
	return exec.CommandContext(ctx, bin, append(base, args...)...)
}

func (b *lb) up(ctx context.Context) error {
	if _, err := findBinary("nginx"); err != nil {
		return err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	if err := b.writeConfig(); err != nil {
		return err
	}
	if err := run(b.nginx(ctx, "-t", "-q")); err != nil {
		return fmt.Errorf("nginx configuration test failed: %w", err)
	}
	if !b.running() {
		if !portFree(b.s.LBPort) {
			return fmt.Errorf("port %d is taken by another program: stop it or create the lab with --lb-port", b.s.LBPort)
		}
		if err := run(b.nginx(ctx)); err != nil { // nginx daemonizes itself
			return fmt.Errorf("start nginx: %w", err)
		}
	}
	return waitFor(ctx, "lb", 15*time.Second, func() error { _, err := b.probe(ctx); return err })
}

// probe asks the balancer for its health page.
func (b *lb) probe(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/__lb/route", b.s.LBPort), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("balancer answered %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// reload checks the configuration and makes nginx re-read it (SIGHUP), then waits
// until the balancer reports the new side.
func (b *lb) reload(ctx context.Context) error {
	if !b.running() {
		return nil // the route is read when nginx starts
	}
	if err := run(b.nginx(ctx, "-t", "-q")); err != nil {
		return fmt.Errorf("nginx configuration test failed: %w", err)
	}
	if err := syscall.Kill(b.pid(), syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload nginx: %w", err)
	}
	want := ""
	if cur, err := os.ReadFile(RouteFile(b.s.Dir)); err == nil {
		if _, rest, ok := strings.Cut(string(cur), `set $xckit_side "`); ok {
			want, _, _ = strings.Cut(rest, `"`)
		}
	}
	return waitFor(ctx, "lb reload", 10*time.Second, func() error {
		side, err := b.probe(ctx)
		if err == nil && want != "" && side != want {
			err = fmt.Errorf("balancer still routes to %s", side)
		}
		return err
	})
}

func (b *lb) down(ctx context.Context) error {
	// SIGQUIT: graceful shutdown, workers finish their requests.
	return stopPID(b.pid(), "nginx", syscall.SIGQUIT, 15*time.Second)
}

func (b *lb) status(ctx context.Context) Part {
	p := Part{Name: "lb", Role: "load balancer (nginx, the F5)", PID: b.pid(), Port: b.s.LBPort}
	p.Running = b.running()
	if !p.Running {
		p.PID, p.Detail = 0, "not running"
		return p
	}
	side, err := b.probe(ctx)
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	p.Healthy, p.Detail = true, "routing to: "+side
	return p
}
