package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/profiles"
)

// TestLifecycle builds a lab of its own (own directory and ports), checks that up is
// idempotent, that every part answers, and that down leaves no process behind.
func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts PostgreSQL, MariaDB and nginx; run without -short")
	}
	dir, err := os.MkdirTemp("", "xckit-lab-lifecycle-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // PostgreSQL's own user must traverse it when we are root
	payd := filepath.Join(dir, "payd-bin")
	if out, err := exec.Command("go", "build", "-o", payd, "../cmd/payd").CombinedOutput(); err != nil {
		t.Fatalf("build payd: %v %s", err, out)
	}
	o := Options{Dir: dir, GaussPort: 16432, LegacyPort: 16306, LBPort: 16000, PaydBin: payd}
	t.Cleanup(func() {
		Down(context.Background(), o, true)
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	pids := map[string]int{}
	for _, p := range first.Parts {
		if !p.Healthy || p.PID == 0 {
			t.Errorf("%s after up: %+v", p.Name, p)
		}
		pids[p.Name] = p.PID
	}
	if len(pids) != 4 {
		t.Fatalf("parts: %+v", first.Parts)
	}
	st, _ := os.Stat(statePath(dir))
	if st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lab.json holds passwords and must be 0600: %v", st)
	}

	second, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	for _, p := range second.Parts {
		if p.PID != pids[p.Name] {
			t.Errorf("second up restarted %s: pid %d -> %d", p.Name, pids[p.Name], p.PID)
		}
	}

	env, err := EnvOf(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(env.GaussDSN, ":16432/payd") || !strings.Contains(env.LegacyDSN, ":16306/payd") || env.LBURL != "http://127.0.0.1:16000" {
		t.Errorf("env: %+v", env)
	}
	if env.LegacyURL != "http://127.0.0.1:16081" || env.MerchantID != LabMerchant || len(env.MerchantKey) < 16 {
		t.Errorf("env: %+v", env)
	}
	// The balancer routes to the legacy platform: an unsigned request reaches payd,
	// which refuses it with its own 401.
	resp, err := http.Get(env.LBURL + "/v1/payments/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "signature_missing") {
		t.Errorf("lb -> legacy payd: %d %s", resp.StatusCode, body)
	}
	if b, _ := os.ReadFile(RouteFile(dir)); !strings.Contains(string(b), `"legacy"`) {
		t.Errorf("route file: %s", b)
	}
	// The users' passwords never reach MariaDB's binary log.
	binlogs, _ := filepath.Glob(filepath.Join(dir, "legacy", "data", "binlog.*"))
	if len(binlogs) == 0 {
		t.Errorf("no binlog under %s/legacy/data", dir)
	}
	for _, dsn := range []string{env.LegacyDSN, env.LegacyAdminDSN} {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := u.User.Password()
		for _, f := range binlogs {
			if b, _ := os.ReadFile(f); len(pw) >= 8 && strings.Contains(string(b), pw) {
				t.Errorf("%s holds a password in plain text", f)
			}
		}
	}

	// What the kit starts under the lab must stop with it: a payd installed into the
	// lab's prefix (as site.yaml expects) and the cdc run a cutover starts (pid file
	// <prefix>/run/cdc.pid; here a stand-in process named xckit).
	t.Setenv("XCKIT_MERCHANT_ID", env.MerchantID)
	t.Setenv("XCKIT_MERCHANT_KEY", env.MerchantKey)
	prof, _ := profiles.Load("lab")
	prefix := filepath.Join(dir, "new")
	if _, err := installer.Install(ctx, installer.Options{Profile: prof, DB: env.GaussDSN, AdminDB: env.GaussAdminDSN, Prefix: prefix,
		Listen: "127.0.0.1:16080", PaydBin: payd, Version: "v1"}); err != nil {
		t.Fatalf("install into the lab's prefix: %v", err)
	}
	pids["installed payd"] = installer.AppPID(prefix)
	sleep, _ := exec.LookPath("sleep")
	b, _ := os.ReadFile(sleep)
	os.WriteFile(filepath.Join(dir, "xckit"), b, 0o755)
	cdcRun := exec.Command(filepath.Join(dir, "xckit"), "300")
	if err := cdcRun.Start(); err != nil {
		t.Fatal(err)
	}
	go cdcRun.Wait()
	os.WriteFile(filepath.Join(prefix, "run", "cdc.pid"), []byte(fmt.Sprintln(cdcRun.Process.Pid)), 0o644)
	pids["cdc run"] = cdcRun.Process.Pid
	if pids["installed payd"] == 0 || !alive(pids["cdc run"], "xckit") {
		t.Fatalf("the kit's processes did not start: %v", pids)
	}

	if err := Down(ctx, o, false); err != nil {
		t.Fatalf("down: %v", err)
	}
	for name, pid := range pids {
		if alive(pid, "") {
			t.Errorf("%s pid %d still runs after down", name, pid)
		}
	}
	after, err := StatusOf(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if after.Healthy() {
		t.Error("status after down says healthy")
	}
	if err := Down(ctx, o, true); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("purge left %s", dir)
	}
}

func TestMissingBinaryNamesPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := searchDirs
	searchDirs = func() []string { return nil }
	t.Cleanup(func() { searchDirs = saved })
	for bin, pkg := range map[string]string{"mariadbd": "mariadb-server", "nginx": "nginx", "initdb": "postgresql-15"} {
		_, err := findBinary(bin)
		if err == nil || !strings.Contains(err.Error(), "apt-get install "+pkg) {
			t.Errorf("%s: %v", bin, err)
		}
	}
	_, err := findBinary("xckit-no-such-tool")
	if err == nil || !strings.Contains(err.Error(), "xckit-no-such-tool not found") {
		t.Errorf("unknown binary: %v", err)
	}
}

func TestDamagedStateIsAClearError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(statePath(dir), []byte("{not json"), 0o600)
	_, err := StatusOf(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "lab down --purge") {
		t.Errorf("damaged state: %v", err)
	}
}

// TestStaleBinary tells a process running a binary as it is from one whose binary was
// rebuilt (replaced) since it started, or that runs another file.
func TestStaleBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sleeper")
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(src)
	os.WriteFile(bin, b, 0o755)
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if why := staleBinary(cmd.Process.Pid, bin); why != "" {
		t.Errorf("fresh process reported stale: %s", why)
	}
	if why := staleBinary(cmd.Process.Pid, src); !strings.Contains(why, "the lab's payd is") {
		t.Errorf("another file: %q", why)
	}
	// A rebuild writes a new file over the old name.
	os.WriteFile(bin+".new", b, 0o755)
	os.Rename(bin+".new", bin)
	if why := staleBinary(cmd.Process.Pid, bin); !strings.Contains(why, "rebuilt") {
		t.Errorf("after a rebuild: %q", why)
	}
}
