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
	bundle := filepath.Join(tmp, "bundle")
	for _, d := range []string{"bin", "profiles", "docs", "scripts"} {
		os.MkdirAll(filepath.Join(bundle, d), 0o755)
	}
	for _, cmd := range []string{"xckit", "payd"} {
		b := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bundle, "bin", cmd), "../cmd/"+cmd)
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v %s", cmd, err, out)
		}
	}
	os.WriteFile(filepath.Join(bundle, "profiles", "lab.yaml"), []byte("name: lab\n"), 0o644)
	os.WriteFile(filepath.Join(bundle, "docs", "README.md"), []byte("docs\n"), 0o644)
	os.WriteFile(filepath.Join(bundle, "scripts", "signed-curl.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(bundle, "payd.service"), []byte("[Unit]\n"), 0o644)
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
	if err != nil || !strings.Contains(string(list), "/usr/bin/xckit") || !strings.Contains(string(list), "/usr/share/xckit/profiles/lab.yaml") {
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
