package ansible

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// host is one test host: a network namespace with a veth link and its own sshd.
type host struct {
	name, ns, ip, gw string
	sshd             *exec.Cmd
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", name, args, err, out)
	}
}

// forward relays gw:port (the root namespace's side of a host's link) to the lab's
// database on 127.0.0.1, so that the namespace hosts reach it as a site host would.
func forward(t *testing.T, listen, to string) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// TestPlaybooksOverSSH makes three hosts as network namespaces, each with sshd, and
// runs check.yml and install.yml against them with ansible-playbook, for real.
func TestPlaybooksOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: network namespaces, sshd and ansible")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: run make test as root")
	}
	if err := exec.Command("ip", "netns", "add", "xct-probe").Run(); err != nil {
		t.Skipf("network namespaces cannot be created here: %v", err)
	}
	exec.Command("ip", "netns", "del", "xct-probe").Run()
	for _, tool := range []string{"ansible-playbook", "ssh-keygen", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make setup installs ansible and openssh-server): %v", tool, err)
		}
	}
	env := labtest.Ensure(t)
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	bins := filepath.Join(tmp, "bin")
	for _, cmd := range []string{"xckit", "payd"} {
		b := exec.Command("go", "build", "-o", filepath.Join(bins, cmd), "../cmd/"+cmd)
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build: %v %s", err, out)
		}
	}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(tmp, "id"))
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(tmp, "hostkey"))
	pub, _ := os.ReadFile(filepath.Join(tmp, "id.pub"))
	os.WriteFile(filepath.Join(tmp, "authorized_keys"), pub, 0o600)
	os.MkdirAll("/run/sshd", 0o755)

	gauss, _ := dbx.ParseDSN(env.GaussDSN)
	gaussAdmin, _ := dbx.ParseDSN(env.GaussAdminDSN)
	var hosts []*host
	t.Cleanup(func() {
		for _, h := range hosts {
			// payd installed inside the namespace, then sshd, then the namespace.
			if b, err := os.ReadFile(filepath.Join(tmp, h.name, "opt", "run", "payd.pid")); err == nil {
				var pid int
				fmt.Sscan(string(b), &pid)
				syscall.Kill(pid, syscall.SIGTERM)
			}
			if h.sshd != nil && h.sshd.Process != nil {
				h.sshd.Process.Kill()
				h.sshd.Wait()
			}
			clearNamespace(h.ns, "xct-v"+h.name[1:])
		}
	})
	var inv strings.Builder
	inv.WriteString("[app]\n")
	for i := 1; i <= 3; i++ {
		h := &host{name: fmt.Sprintf("h%d", i), ns: fmt.Sprintf("xct-h%d", i), ip: fmt.Sprintf("10.231.%d.2", i), gw: fmt.Sprintf("10.231.%d.1", i)}
		hosts = append(hosts, h)
		// A run killed before its clean-up leaves the namespace (held by what still
		// runs inside it) and its veth: clear both, or the veth cannot be made again.
		clearNamespace(h.ns, "xct-v"+h.name[1:])
		run(t, "ip", "netns", "add", h.ns)
		run(t, "ip", "link", "add", "xct-v"+h.name[1:], "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		run(t, "ip", "addr", "add", h.gw+"/24", "dev", "xct-v"+h.name[1:])
		run(t, "ip", "link", "set", "xct-v"+h.name[1:], "up")
		run(t, "ip", "netns", "exec", h.ns, "ip", "addr", "add", h.ip+"/24", "dev", "eth0")
		run(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", "eth0", "up")
		run(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", "lo", "up")
		cfg := filepath.Join(tmp, h.name+"-sshd.conf")
		os.WriteFile(cfg, []byte(fmt.Sprintf("ListenAddress %s\nPort 22\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile %s\nSubsystem sftp internal-sftp\n",
			h.ip, filepath.Join(tmp, "hostkey"), filepath.Join(tmp, "authorized_keys"), filepath.Join(tmp, h.name+"-sshd.pid"))), 0o600)
		h.sshd = exec.Command("ip", "netns", "exec", h.ns, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
		if err := h.sshd.Start(); err != nil {
			t.Fatal(err)
		}
		// The lab's databases, as this host sees them.
		forward(t, h.gw+":15432", "127.0.0.1:15432")
		forward(t, h.gw+":18081", strings.TrimPrefix(env.LegacyURL, "http://")) // the lab's legacy payd
		fmt.Fprintf(&inv, "%s ansible_host=%s xckit_remote_dir=%s/%s/kit xckit_prefix=%s/%s/opt payd_listen=%s:18090 xckit_db=%s xckit_admin_db=%s xckit_target=http://%s:18081\n",
			h.name, h.ip, tmp, h.name, tmp, h.name, h.ip, dsnVia(gauss, h.gw), dsnVia(gaussAdmin, h.gw), h.gw)
	}
	inv.WriteString("\n[bench]\nh1\nh2\nh3\n")
	fmt.Fprintf(&inv, "\n[all:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\nansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\nansible_python_interpreter=/usr/bin/python3\n", filepath.Join(tmp, "id"))
	invFile := filepath.Join(tmp, "inventory.ini")
	os.WriteFile(invFile, []byte(inv.String()), 0o600)
	results := filepath.Join(tmp, "results")
	extra := fmt.Sprintf(`{"xckit_binaries": {"amd64": %q, "arm64": %q}, "xckit_local_bin": %q, "xckit_results": %q, "xckit_profile": "lab", "xckit_merchant_id": %q, "xckit_merchant_key": %q}`,
		bins, bins, filepath.Join(bins, "xckit"), results, env.MerchantID, env.MerchantKey)
	playbook := func(args ...string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for _, h := range hosts { // sshd is up when it answers
			for time.Now().Before(deadline) {
				if c, err := net.DialTimeout("tcp", h.ip+":22", 200*time.Millisecond); err == nil {
					c.Close()
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		cmd := exec.Command("ansible-playbook", append([]string{"-i", invFile, "-e", extra}, args...)...)
		// No ssh connection sharing: nothing outlives the playbook.
		cmd.Env = append(os.Environ(), "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
			"ANSIBLE_SSH_ARGS=-o ControlMaster=no -o ControlPersist=no")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	playbook("check.yml")
	for _, h := range hosts {
		if _, err := os.Stat(filepath.Join(results, h.name, "check.json")); err != nil {
			t.Errorf("no report fetched from %s", h.name)
		}
	}
	var fleet struct {
		Hosts []json.RawMessage `json:"hosts"`
	}
	b, _ := os.ReadFile(filepath.Join(results, "fleet.json"))
	if json.Unmarshal(b, &fleet) != nil || len(fleet.Hosts) != 3 {
		t.Errorf("fleet.json: %s", b)
	}
	if x, _ := os.ReadFile(filepath.Join(results, "fleet.xml")); strings.Count(string(x), "<testsuite ") != 3 {
		t.Errorf("fleet.xml should hold one suite per host")
	}
	if txt, _ := os.ReadFile(filepath.Join(results, "fleet.txt")); !strings.Contains(string(txt), "3 hosts") {
		t.Errorf("fleet.txt: %s", txt)
	}

	out := playbook("install.yml")
	if !strings.Contains(out, "changed=1") {
		t.Errorf("first install.yml should change every host:\n%s", out)
	}
	if strings.Contains(out, gaussAdmin.Password) || strings.Contains(out, gauss.Password) || strings.Contains(out, env.MerchantKey) {
		t.Error("ansible's output shows a secret")
	}
	// --check: every host prints its install plan, and nothing changes.
	out = playbook("--check", "install.yml")
	if strings.Count(out, "would run") != 3 || strings.Contains(out, "changed=1") || !strings.Contains(out, "changed=0") {
		t.Errorf("install.yml --check must print three plans and change nothing:\n%s", out)
	}
	out = playbook("install.yml")
	if strings.Contains(out, gaussAdmin.Password) || strings.Contains(out, gauss.Password) || strings.Contains(out, env.MerchantKey) {
		t.Error("ansible's output shows a secret")
	}
	if strings.Contains(out, "changed=1") || !strings.Contains(out, "changed=0") {
		t.Errorf("a second install.yml must report no changes:\n%s", out)
	}

	// bench.yml: three generators at once, a third of the rate each, one merged verdict.
	modest := filepath.Join(tmp, "modest.yaml")
	os.WriteFile(modest, []byte("name: modest\nextends: lab\nacceptance:\n  cases:\n    - name: debit\n      scenario: payment.debit\n      tps: 90\n      duration: 10s\n      max_avg_latency: 2s\n      min_success: 100%\n"), 0o644)
	cmd := exec.Command("ansible-playbook", "-i", invFile, "-e", extra, "-e", "xckit_profile="+modest, "-e", "xckit_bench_scale=0.3", "bench.yml")
	cmd.Env = append(os.Environ(), "ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_SSH_ARGS=-o ControlMaster=no -o ControlPersist=no")
	bout, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(bout), "3 generators") || !strings.Contains(string(bout), "PASS") {
		t.Errorf("bench.yml: %v\n%s", err, bout)
	}
	if _, err := os.Stat(filepath.Join(results, "acceptance", "report.html")); err != nil {
		t.Errorf("no merged report: %v", err)
	}
}

func dsnVia(d dbx.DSN, host string) string {
	d.Host = host
	return d.URL()
}

// clearNamespace ends what this test started inside the namespace ns (payd, sshd),
// then removes the host side of its veth and the namespace itself; each part may
// already be gone.
func clearNamespace(ns, veth string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	exec.Command("ip", "link", "del", veth).Run()
	exec.Command("ip", "netns", "del", ns).Run()
}
