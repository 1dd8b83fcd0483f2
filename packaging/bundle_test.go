package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestArm64BinaryUnderQemu builds xckit for linux/arm64 (what a Kunpeng server runs)
// and runs it under qemu-aarch64-static: version, profile validate and a host check.
func TestArm64BinaryUnderQemu(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Fatalf("qemu-aarch64-static is needed (apt-get install qemu-user-static, or make setup): %v", err)
	}
	if testing.Short() {
		t.Skip("builds an arm64 binary; run without -short")
	}
	bin := filepath.Join(t.TempDir(), "xckit")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/xckit")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build arm64: %v %s", err, out)
	}
	if err := checkELF(bin, "arm64"); err != nil {
		t.Fatalf("arm64 binary: %v", err)
	}
	if runtime.GOARCH != "arm64" && checkELF(bin, "amd64") == nil {
		t.Fatal("checkELF accepted an arm64 binary as amd64")
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(qemu, append([]string{bin}, args...)...).Output()
		if err != nil {
			t.Fatalf("qemu xckit %v: %v", args, err)
		}
		return string(out)
	}
	var v struct{ Arch, OS string }
	if err := json.Unmarshal([]byte(run("version", "-o", "json")), &v); err != nil || v.Arch != "arm64" || v.OS != "linux" {
		t.Errorf("version under qemu: %+v %v", v, err)
	}
	if out := run("profile", "validate", "../profiles/testdata/good/site.yaml"); !strings.Contains(out, "valid") {
		t.Errorf("profile validate under qemu: %s", out)
	}
	cmd := exec.Command(qemu, bin, "check", "--scope", "host", "--profile", "kunpeng920-kylinv10", "--host-root", "../checks/testdata/hosts/kylin-v10-kunpeng920", "-o", "json")
	out, _ := cmd.Output() // exit 1 is fine: a fixture has no live disk of its own
	var rep struct {
		Host struct {
			Arch string `json:"arch"`
			CPU  string `json:"cpu"`
		} `json:"host"`
		Checks []struct {
			ID, Status string
		} `json:"checks"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || rep.Host.Arch != "arm64" || rep.Host.CPU != "Kunpeng 920" || len(rep.Checks) < 20 {
		t.Errorf("check under qemu on the Kylin fixture: %v %+v", err, rep.Host)
	}
}

func TestVerifyBundle(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	self, _ := os.Executable() // a test binary: dynamically linked or not, it is this arch
	_ = self
	for _, name := range []string{"xckit", "payd"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", name), "../cmd/"+name)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "BUNDLE"), []byte("version=test\narch="+runtime.GOARCH+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "install.sh"), []byte("#!/bin/sh\n"), 0o755)
	sums := exec.Command("sh", "-c", "find . -type f ! -name SHA256SUMS | sed 's|^./||' | sort | xargs sha256sum > SHA256SUMS")
	sums.Dir = dir
	if out, err := sums.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	res, err := Verify(dir)
	if err != nil || !res.OK() || res.Files != 4 {
		t.Fatalf("clean bundle: %+v %v", res, err)
	}
	// Damage one file, add another: both are reported.
	os.WriteFile(filepath.Join(dir, "install.sh"), []byte("#!/bin/sh\nrm -rf /\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "extra"), []byte("x"), 0o644)
	res, _ = Verify(dir)
	joined := strings.Join(res.Problems, "\n")
	if !strings.Contains(joined, "install.sh: checksum mismatch") || !strings.Contains(joined, "extra: not listed") {
		t.Errorf("damaged bundle: %v", res.Problems)
	}
}
