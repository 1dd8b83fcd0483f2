package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
)

// UnitTemplate is the hardened systemd unit for payd.
const UnitTemplate = `# written by xckit install
[Unit]
Description=payd, the payment platform (installed by xckit)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={{.User}}
ExecStart={{.Prefix}}/payd/current/payd --config {{.Prefix}}/etc/payd.yaml
Restart=on-failure
RestartSec=2s
TimeoutStopSec=30s
KillSignal=SIGTERM
LimitNOFILE=1000000
LimitNPROC=65535
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=yes
ReadWritePaths={{.Prefix}}/run {{.Prefix}}/log
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`

// RenderUnit fills the unit template.
func RenderUnit(prefix, user string) string {
	var b bytes.Buffer
	template.Must(template.New("unit").Parse(UnitTemplate)).Execute(&b, map[string]string{"Prefix": prefix, "User": user})
	return b.String()
}

func (r *run) systemd() bool {
	if r.o.Systemd != nil {
		return *r.o.Systemd
	}
	comm, _ := os.ReadFile("/proc/1/comm")
	return strings.TrimSpace(string(comm)) == "systemd"
}

func planService(ctx context.Context, r *run) ([]string, error) {
	unit := RenderUnit(r.o.Prefix, "payd")
	var out []string
	if old, _ := os.ReadFile(r.o.etc("payd.service")); string(old) != unit {
		out = append(out, "would write the systemd unit "+r.o.etc("payd.service"))
	}
	if r.systemd() {
		out = append(out, "would install it as /etc/systemd/system/payd-xckit.service and enable it")
	} else {
		out = append(out, "no systemd as PID 1: payd will run supervised by xckit (pid and log under "+filepath.Join(r.o.Prefix, "run")+")")
	}
	return out, nil
}

func applyService(ctx context.Context, r *run) (int, error) {
	changes := 0
	unit := RenderUnit(r.o.Prefix, "payd")
	if old, _ := os.ReadFile(r.o.etc("payd.service")); string(old) != unit {
		if err := r.act(); err != nil {
			return 0, err
		}
		if err := writeAtomic(r.o.etc("payd.service"), []byte(unit), 0o644); err != nil {
			return 0, err
		}
		changes++
	}
	for _, d := range []string{"run", "log"} {
		if err := os.MkdirAll(filepath.Join(r.o.Prefix, d), 0o755); err != nil {
			return changes, err
		}
	}
	if r.systemd() {
		sys := "/etc/systemd/system/payd-xckit.service"
		if old, _ := os.ReadFile(sys); string(old) != unit {
			if err := writeAtomic(sys, []byte(unit), 0o644); err != nil {
				return changes, err
			}
			for _, args := range [][]string{{"daemon-reload"}, {"enable", "payd-xckit.service"}} {
				if out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput(); err != nil {
					return changes, fmt.Errorf("systemctl %s: %v: %s", args[0], err, out)
				}
			}
			changes++
		}
	} else {
		r.note("supervised mode: no systemd as PID 1")
	}
	return changes, nil
}

// --- start ---

// runningFingerprint identifies what a running payd was started from.
func (r *run) runningFingerprint() string {
	return fileHash(filepath.Join(r.o.current(), "payd")) + ":" + fileHash(r.o.etc("payd.yaml"))
}

func (r *run) paydPID() int {
	var pid int
	if r.systemd() {
		// The unit's main process (the unit writes no pid file).
		out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", "payd-xckit.service").Output()
		if err != nil {
			return 0
		}
		fmt.Sscan(string(out), &pid)
	} else {
		b, err := os.ReadFile(r.o.run("payd.pid"))
		if err != nil {
			return 0
		}
		fmt.Sscan(string(b), &pid)
	}
	if proc.Alive(pid, paydProcess) {
		return pid
	}
	return 0
}

func planStart(ctx context.Context, r *run) ([]string, error) {
	pid := r.paydPID()
	started, _ := os.ReadFile(r.o.run("payd.started"))
	switch {
	case pid == 0:
		return []string{"would start payd on " + r.o.Listen}, nil
	case string(started) != r.runningFingerprint():
		return []string{fmt.Sprintf("would restart payd (pid %d): its binary or configuration changed", pid)}, nil
	}
	return nil, nil
}

func applyStart(ctx context.Context, r *run) (int, error) {
	if r.systemd() {
		if err := r.act(); err != nil {
			return 0, err
		}
		if out, err := exec.CommandContext(ctx, "systemctl", "restart", "payd-xckit.service").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("systemctl restart: %v: %s", err, out)
		}
		return 1, nil
	}
	pid := r.paydPID()
	started, _ := os.ReadFile(r.o.run("payd.started"))
	if pid != 0 && string(started) == r.runningFingerprint() {
		return 0, nil
	}
	if err := r.act(); err != nil {
		return 0, err
	}
	if pid != 0 {
		if err := stopPID(pid, 30*time.Second); err != nil {
			return 0, err
		}
	}
	// Whoever else answers the port would pass the health check in our payd's name.
	if who := portHolder(r.o.Listen); who != "" {
		return 0, fmt.Errorf("port %s is taken by %s: stop it, or install with another --listen", r.o.Listen, who)
	}
	if err := startSupervised(r); err != nil {
		return 0, err
	}
	return 1, writeAtomic(r.o.run("payd.started"), []byte(r.runningFingerprint()), 0o644)
}

func startSupervised(r *run) error {
	logf, err := os.OpenFile(filepath.Join(r.o.Prefix, "log", "payd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(r.o.current(), "payd"), "--config", r.o.etc("payd.yaml"), "--pid-file", r.o.run("payd.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start payd: %w", err)
	}
	r.started, r.exited = cmd.Process.Pid, make(chan struct{})
	go func(exited chan struct{}) { cmd.Wait(); close(exited) }(r.exited)
	return nil
}

// paydProcess recognises payd by its program name.
var paydProcess = proc.Is{Comm: "payd"}

// stopPID stops payd: SIGTERM (it finishes its requests), SIGKILL after grace.
func stopPID(pid int, grace time.Duration) error {
	return proc.Stop(context.Background(), pid, proc.StopOptions{Is: paydProcess, Grace: grace, Kill: true})
}

// --- health ---

func planHealth(ctx context.Context, r *run) ([]string, error) {
	return []string{fmt.Sprintf("would wait up to %s for http://%s/readyz", r.o.HealthWait, r.o.Listen)}, nil
}

func applyHealth(ctx context.Context, r *run) (int, error) {
	deadline := time.Now().Add(r.o.HealthWait)
	var last string
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		resp, err := httpGet(ctx, "http://"+r.o.Listen+"/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if err := r.sameInstance(b); err != nil {
					return 0, err
				}
				r.note("%s", strings.TrimSpace(string(b)))
				return 0, nil
			}
			last = resp.Status + " " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-r.exited: // nil (blocks) unless this run started payd
			return 0, fmt.Errorf("payd exited: %s (see %s)", lastLogLine(filepath.Join(r.o.Prefix, "log", "payd.log")), filepath.Join(r.o.Prefix, "log", "payd.log"))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("payd not ready within %s (last: %s); see %s", r.o.HealthWait, last, filepath.Join(r.o.Prefix, "log", "payd.log"))
}

// sameInstance checks that /readyz was answered by the payd this prefix runs (its pid
// file), not by a stranger on the port.
func (r *run) sameInstance(readyz []byte) error {
	var ready struct {
		PID int `json:"pid"`
	}
	json.Unmarshal(readyz, &ready)
	mine := r.started
	if mine == 0 {
		mine = r.paydPID()
	}
	if ready.PID == 0 { // a payd from before /readyz named its pid: ask the kernel
		if _, port, err := net.SplitHostPort(r.o.Listen); err == nil {
			if p, err := strconv.Atoi(port); err == nil {
				ready.PID = listenerPID(p)
			}
		}
	}
	if ready.PID != 0 && ready.PID != mine { // 0: nobody can tell (start refused strangers already)
		return fmt.Errorf("%s answers as pid %d, but the payd installed under %s is pid %d: another program holds the port; stop it", r.o.Listen, ready.PID, r.o.Prefix, mine)
	}
	return nil
}

// httpGet is a GET bounded by ctx and five seconds.
func httpGet(ctx context.Context, url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error { err := c.ReadCloser.Close(); c.cancel(); return err }

// lastLogLine is the last non-empty line of a log file.
func lastLogLine(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return dbx.Redact(lines[len(lines)-1])
}
