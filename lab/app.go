package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lab payd settings.
const (
	DefaultLegacyAppPort = 28081
	DefaultNewAppPort    = 28080
	LabMerchant          = "lab-merchant"
	labSeedAccounts      = 1000
	labSeedBalance       = 100_000_000 // fen per account: one million yuan
)

// findPayd locates the payd binary: the given path, $XCKIT_PAYD, beside the running
// executable (bin/payd next to bin/xckit, and in the bundle), then PATH.
func findPayd(given string) (string, error) {
	candidates := []string{given, os.Getenv("XCKIT_PAYD")}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "payd"))
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return filepath.Abs(c)
		}
	}
	if p, err := exec.LookPath("payd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("payd not found: build it with `make build` (bin/payd beside bin/xckit), or point XCKIT_PAYD at it")
}

// legacyApp is the legacy payment platform: payd on the legacy MariaDB, seeded with
// accounts and agreements, behind the balancer (before cutover the legacy system is
// the live one).
type legacyApp struct {
	s     State
	log   *slog.Logger
	dir   string
	asked bool // named alone (--parts legacy-app): start it whatever the route
}

func newLegacyApp(s State, log *slog.Logger) *legacyApp {
	return &legacyApp{s: s, log: log, dir: filepath.Join(s.Dir, "legacy-app")}
}

func (a *legacyApp) name() string    { return "legacy-app" }
func (a *legacyApp) conf() string    { return filepath.Join(a.dir, "payd.yaml") }
func (a *legacyApp) pidFile() string { return filepath.Join(a.dir, "payd.pid") }
func (a *legacyApp) pid() int        { return readPID(a.pidFile()) }
func (a *legacyApp) running() bool   { return alive(a.pid(), "payd") }
func (a *legacyApp) url() string     { return fmt.Sprintf("http://127.0.0.1:%d", a.s.LegacyAppPort) }

func (a *legacyApp) writeConfig() error {
	cfg := fmt.Sprintf(`# xckit lab: the legacy platform (payd on the legacy MariaDB)
listen: 127.0.0.1:%d
dsn: %s
shutdown_timeout: 10s
merchants:
  - id: %s
    key: %s
`, a.s.LegacyAppPort, a.s.env().LegacyDSN, a.s.MerchantID, a.s.MerchantKey)
	return writeFileAtomic(a.conf(), []byte(cfg), 0o600)
}

func (a *legacyApp) up(ctx context.Context) error {
	bin, err := findPayd(a.s.PaydBin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		return err
	}
	if err := a.writeConfig(); err != nil {
		return err
	}
	if a.running() {
		if why := staleBinary(a.pid(), bin); why != "" {
			a.log.Info("lab: restarting the legacy payd", "why", why)
			if err := a.down(ctx); err != nil {
				return fmt.Errorf("restart the legacy payd (%s): %w", why, err)
			}
		}
	}
	if !a.running() {
		// A cutover stopped the legacy payd on purpose: starting it again would make two
		// live sides. Only a route to legacy (or none chosen yet) lets lab up start it.
		if side := RoutedSide(a.s.Dir); !a.asked && side != "" && side != "legacy" {
			a.log.Warn("lab: the legacy payd stays stopped: the balancer routes to "+side+" (a cutover or rollback chose it); xckit rollback brings legacy back", "route", side)
			return nil
		}
		for _, args := range [][]string{
			{"--config", a.conf(), "--log-level", "warn", "migrate"},
			{"--config", a.conf(), "--log-level", "warn", "seed", "--accounts", fmt.Sprint(labSeedAccounts), "--balance", fmt.Sprint(labSeedBalance)},
		} {
			if err := run(exec.CommandContext(ctx, bin, args...)); err != nil {
				return err
			}
		}
		if !portFree(a.s.LegacyAppPort) {
			return fmt.Errorf("port %d is taken by another program: stop it", a.s.LegacyAppPort)
		}
		logf, err := os.OpenFile(filepath.Join(a.dir, "payd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "--config", a.conf(), "--pid-file", a.pidFile())
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("start payd: %w", err)
		}
		logf.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if err := waitFor(ctx, "legacy-app", 30*time.Second, func() error {
			select {
			case <-exited:
				return errGaveUp{fmt.Errorf("payd exited: %s", tailFile(filepath.Join(a.dir, "payd.log"), 600))}
			default:
			}
			return a.probe(ctx)
		}); err != nil {
			return err
		}
	}
	return routeIfUnrouted(ctx, a.s, "legacy", a.s.LegacyAppPort)
}

// staleBinary says why the process pid does not run bin as it is now (rebuilt since it
// started, or another file), or "" when it does or Linux cannot tell.
func staleBinary(pid int, bin string) string {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return "its binary was rebuilt since it started"
	}
	if abs, err := filepath.Abs(bin); err == nil {
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != exe {
			return fmt.Sprintf("it runs %s, the lab's payd is %s", exe, real)
		}
	}
	return ""
}

func (a *legacyApp) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.url()+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz answered %s", resp.Status)
	}
	return nil
}

func (a *legacyApp) down(ctx context.Context) error {
	return stopPID(a.pid(), "payd", syscall.SIGTERM, 20*time.Second)
}

func (a *legacyApp) status(ctx context.Context) Part {
	p := Part{Name: "legacy-app", Role: "legacy platform (payd on legacy)", PID: a.pid(), Port: a.s.LegacyAppPort}
	p.Running = a.running()
	if !p.Running {
		p.PID, p.Detail = 0, "not running"
		if side := RoutedSide(a.s.Dir); side != "" && side != "legacy" {
			p.StoppedOnPurpose = true
			p.Detail = "stopped: the balancer routes to " + side + " (a cutover stopped it; xckit rollback starts it)"
		}
		return p
	}
	if err := a.probe(ctx); err != nil {
		p.Detail = err.Error()
		return p
	}
	p.Healthy, p.Detail = true, "ready, merchant "+a.s.MerchantID
	return p
}

// routeIfUnrouted points the balancer at a side the first time only: once a cutover
// or rollback has chosen a route, lab up leaves it alone.
func routeIfUnrouted(ctx context.Context, s State, side string, port int) error {
	cur, err := os.ReadFile(RouteFile(s.Dir))
	if err == nil && string(cur) != NoRoute {
		return nil
	}
	if err := writeFileAtomic(RouteFile(s.Dir), []byte(RouteTo(side, port)), 0o644); err != nil {
		return err
	}
	return newLB(s, nil).reload(ctx)
}

// RoutedSide is the side the lab's balancer routes to ("new", "legacy", "none" when
// drained), or "" when no route has been chosen yet.
func RoutedSide(dir string) string {
	cur, err := os.ReadFile(RouteFile(dir))
	if err != nil || string(cur) == NoRoute {
		return ""
	}
	for _, line := range strings.Split(string(cur), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "set $xckit_side "); ok {
			return strings.Trim(strings.TrimSuffix(v, ";"), `"`)
		}
	}
	return ""
}

// RouteTo is the route file sending all traffic to one side's platform.
func RouteTo(side string, port int) string {
	return fmt.Sprintf(`# written by xckit: where the balancer sends traffic
set $xckit_side "%s";
location / {
    proxy_pass http://127.0.0.1:%d;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_connect_timeout 2s;
    proxy_read_timeout 30s;
}
`, side, port)
}
