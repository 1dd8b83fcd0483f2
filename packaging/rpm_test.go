package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRPMInstallsIntoScratchRoot builds the RPM from a bundle for this machine's
// architecture with nfpm (pinned), lists it with rpm -qpl, checks its architecture,
// installs it into a scratch root and runs xckit from there.
func TestRPMInstallsIntoScratchRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and an RPM")
	}
	rpmBin, err := exec.LookPath("rpm")
	if err != nil {
		t.Fatalf("rpm is needed (apt-get install rpm, or make setup): %v", err)
	}
	tmp := t.TempDir()
	bundle := makeBundle(t, filepath.Join(tmp, "bundle"))
	tmpl, _ := os.ReadFile("nfpm.yaml")
	cfg := strings.NewReplacer("${BUNDLE}", bundle, "${ARCH}", runtime.GOARCH, "${PKG_VERSION}", "0.1.0+test").Replace(string(tmpl))
	cfgFile := filepath.Join(tmp, "nfpm.yaml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	out := filepath.Join(tmp, "out")
	os.MkdirAll(out, 0o755)
	nfpm := exec.Command("go", "run", "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.41.3", "pkg", "--config", cfgFile, "--packager", "rpm", "--target", out)
	nfpm.Dir = ".." // the preinstall script path is relative to the repository
	if o, err := nfpm.CombinedOutput(); err != nil {
		t.Fatalf("nfpm: %v %s", err, o)
	}
	pkgs, _ := filepath.Glob(filepath.Join(out, "*.rpm"))
	if len(pkgs) != 1 {
		t.Fatalf("packages: %v", pkgs)
	}
	list, err := exec.Command(rpmBin, "-qpl", pkgs[0]).Output()
	if err != nil || !strings.Contains(string(list), "/usr/bin/xckit") || !strings.Contains(string(list), "/usr/share/xckit/profiles/lab.yaml") ||
		!strings.Contains(string(list), "/usr/share/xckit/ansible/check.yml") || !strings.Contains(string(list), "/usr/share/xckit/ansible/roles/xckit/tasks/main.yml") ||
		!strings.Contains(string(list), "/usr/share/xckit/prometheus/xckit-cdc.rules.yml") {
		t.Errorf("rpm -qpl: %v %s", err, list)
	}
	want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if arch, _ := exec.Command(rpmBin, "-qp", "--qf", "%{ARCH}", pkgs[0]).Output(); string(arch) != want {
		t.Errorf("rpm arch %q, want %q", arch, want)
	}
	root := filepath.Join(tmp, "root")
	if o, err := exec.Command(rpmBin, "--root", root, "--initdb").CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v %s", err, o)
	}
	if o, err := exec.Command(rpmBin, "-i", "--root", root, "--nodeps", "--noscripts", pkgs[0]).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i into a scratch root: %v %s", err, o)
	}
	v, err := exec.Command(filepath.Join(root, "usr", "bin", "xckit"), "version", "-o", "json").Output()
	if err != nil || !strings.Contains(string(v), `"arch": "`+runtime.GOARCH+`"`) {
		t.Errorf("xckit from the scratch root: %v %s", err, v)
	}
}

// makeBundle assembles a bundle for this machine with scripts/bundle.sh, the script
// make dist uses.
func makeBundle(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("scripts/bundle.sh", runtime.GOARCH, dir)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "VERSION=test", "COMMIT=test", "DATE=test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/bundle.sh: %v %s", err, out)
	}
	return dir
}

// TestBundleCarriesPlaybooks installs a bundle with its own install.sh and checks, in a
// namespace without a network (unshare -n), that the playbooks it carries parse.
func TestBundleCarriesPlaybooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a bundle")
	}
	for _, tool := range []string{"unshare", "ansible-playbook"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make setup): %v", tool, err)
		}
	}
	tmp := t.TempDir()
	bundle := makeBundle(t, filepath.Join(tmp, "bundle"))
	prefix := filepath.Join(tmp, "opt")
	inst := exec.Command("sh", filepath.Join(bundle, "install.sh"), prefix)
	inst.Env = append(os.Environ(), "BINDIR="+filepath.Join(tmp, "bin"))
	if out, err := inst.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v %s", err, out)
	}
	kit := filepath.Join(prefix, "kit", "current", "ansible")
	for _, f := range []string{"check.yml", "install.yml", "rollback.yml", "site.yml", "inventory.example.ini", "roles/xckit/tasks/main.yml"} {
		if _, err := os.Stat(filepath.Join(kit, f)); err != nil {
			t.Errorf("the installed bundle lacks ansible/%s: %v", f, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(kit, "*.go")); len(m) > 0 {
		t.Errorf("the bundle carries the repository's Go files: %v", m)
	}
	check := exec.Command("unshare", "-n", "ansible-playbook", "--syntax-check", "-i", "inventory.example.ini", "check.yml")
	check.Dir = kit
	check.Env = append(os.Environ(), "ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "ansible-tmp"))
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("ansible-playbook --syntax-check check.yml without a network: %v\n%s", err, out)
	}
}
