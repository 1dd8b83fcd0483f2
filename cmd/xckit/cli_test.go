package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/internal/nettest"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"xckit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestNormalizeArgs(t *testing.T) {
	app := newApp(nil, nil)
	cases := []struct{ in, want string }{
		{"lab status -o json", "-o json lab status"},
		{"-o json lab status", "-o json lab status"},
		{"lab status --output=json --dir /x", "--output=json lab status --dir /x"},
		{"profile show lab -o json", "-o json profile show lab"},
		{"profile validate a.yaml --log-level debug b.yaml", "--log-level debug profile validate a.yaml b.yaml"},
		{"lab down --purge --dir /x", "lab down --purge --dir /x"},
		{"lab up --dir /x --gauss-port 1", "lab up --dir /x --gauss-port 1"},
		{"lab down /extra --purge", "lab down --purge /extra"},
		{"profile show -- -o", "profile show -- -o"},
	}
	for _, c := range cases {
		got := normalizeArgs(app, append([]string{"xckit"}, strings.Fields(c.in)...))
		want := append([]string{"xckit"}, strings.Fields(c.want)...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q -> %q, want %q", c.in, got[1:], want[1:])
		}
	}
}

func TestCommandLineHidesSecrets(t *testing.T) {
	cases := []struct{ in, want string }{
		{"xckit bench acceptance --key s3cret --merchant M1", "xckit bench acceptance --key xxxxx --merchant M1"},
		{"xckit bench acceptance --key=s3cret", "xckit bench acceptance --key=xxxxx"},
		{"xckit check --db postgres://payd:pw@h:5432/payd", "xckit check --db postgres://payd:xxxxx@h:5432/payd"},
		{"xckit bench acceptance --keyring k", "xckit bench acceptance --keyring k"},
	}
	for _, c := range cases {
		got := commandLine(strings.Fields(c.in))
		if got != c.want {
			t.Errorf("%q -> %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, ":pw@") {
			t.Errorf("%q: secret left in %q", c.in, got)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version", "-o", "json"}, {"-o", "json", "version"}} {
		code, out, _ := runCLI(t, args...)
		var v map[string]string
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("%v: exit %d, %q", args, code, out)
		}
		for _, k := range []string{"version", "commit", "build_date", "go_version", "os", "arch"} {
			if v[k] == "" {
				t.Errorf("%v: %s missing in %s", args, k, out)
			}
		}
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "xckit ") {
		t.Errorf("text version: %d %q", code, out)
	}
}

func TestExitCodesAndUsageErrors(t *testing.T) {
	cases := []struct {
		args  []string
		code  int
		inErr string
		inOut string
	}{
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`, ""},
		{[]string{"version", "--bogus"}, 2, "flag provided but not defined", ""},
		{[]string{"-o", "yaml", "version"}, 2, `--output "yaml": use text or json`, ""},
		{[]string{"version", "--log-level", "loud"}, 2, `--log-level "loud"`, ""},
		{[]string{"profile", "show", "a", "b"}, 2, "takes one profile", ""},
		{[]string{"profile", "show", "--profile", "kunpeng920-euleros2"}, 0, "", "name: kunpeng920-euleros2"},
		{[]string{"profile", "show", "no-such"}, 2, `no profile named "no-such"`, ""},
		{[]string{"profile", "validate", "../../profiles/testdata/bad/a.yaml"}, 2, "1 of 1 profile files are invalid", "a.yaml:5: host.colour: unknown field"},
		{[]string{"profile", "validate", "../../profiles/testdata/good/site.yaml"}, 0, "", "site.yaml: valid"},
		{[]string{"profile", "show", "kunpeng920-kylinv10"}, 0, "", "max_avg_latency: 45ms"},
		{[]string{"lab", "status", "--dir", "/nonexistent/xckit-lab"}, 1, "no lab in /nonexistent/xckit-lab", ""},
		{[]string{"lab", "env", "--dir", "/nonexistent/xckit-lab"}, 2, "run `xckit lab up` first", ""},
		{[]string{"cdc", "run", "--source", "postgres://x@127.0.0.1:1/x", "--target", "mysql://x@127.0.0.1:1/x", "--spool-mb", "0"}, 2, "--spool-mb 0: want at least 1", ""},
		{[]string{"cdc", "run", "--source", "postgres://x@127.0.0.1:1/x", "--target", "mysql://x@127.0.0.1:1/x", "--spool-dir", "/nonexistent/xckit-spool"}, 2, "--spool-dir /nonexistent/xckit-spool: cannot write there", ""},
		// uninstall needs no --db unless it drops the data (then it reads the installed one).
		{[]string{"uninstall", "--prefix", "/nonexistent/xckit-prefix"}, 0, "", "kept the database"},
		{[]string{"uninstall", "--prefix", "/nonexistent/xckit-prefix", "--drop-data", "--yes"}, 1, "--drop-data needs the application's DSN: no installed configuration", ""},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.inErr) || !strings.Contains(out, c.inOut) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errs)
		}
		if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic") {
			t.Errorf("%v: stack trace on stderr: %s", c.args, errs)
		}
	}
}

func TestValidateJSONListsEveryError(t *testing.T) {
	code, out, _ := runCLI(t, "profile", "validate", "../../profiles/testdata/bad/a.yaml", "../../profiles/testdata/bad/types.yaml", "-o", "json")
	var res []struct {
		File   string `json:"file"`
		Valid  bool   `json:"valid"`
		Errors []struct {
			Line  int    `json:"line"`
			Field string `json:"field"`
		} `json:"errors"`
	}
	if code != 2 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 2 {
		t.Fatalf("exit %d, %s", code, out)
	}
	if len(res[0].Errors) != 3 || len(res[1].Errors) != 3 || res[0].Errors[0].Line == 0 {
		t.Errorf("errors: %+v", res)
	}
}

func TestLabStatusAndEnvOnTheTestLab(t *testing.T) {
	labtest.Ensure(t)
	dir := labtest.Dir()
	for _, args := range [][]string{
		{"lab", "status", "--dir", dir, "-o", "json"},
		{"-o", "json", "lab", "status", "--dir", dir},
	} {
		code, out, errs := runCLI(t, args...)
		var st struct {
			Parts []struct {
				Name    string `json:"name"`
				PID     int    `json:"pid"`
				Healthy bool   `json:"healthy"`
			} `json:"parts"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Parts) != 4 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
		for _, p := range st.Parts {
			if !p.Healthy || p.PID == 0 {
				t.Errorf("%v: %+v", args, p)
			}
		}
	}
	code, out, _ := runCLI(t, "lab", "env", "--dir", dir, "-o", "json")
	var env map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &env) != nil {
		t.Fatalf("env: %d %s", code, out)
	}
	for _, k := range []string{"gauss_dsn", "gauss_admin_dsn", "legacy_dsn", "legacy_admin_dsn", "lb_url", "legacy_url", "merchant_id", "merchant_key"} {
		if env[k] == "" {
			t.Errorf("lab env lacks %s: %s", k, out)
		}
	}
	// Logs never carry the lab's passwords.
	_, _, errs := runCLI(t, "lab", "up", "--dir", dir, "--log-level", "debug")
	for _, k := range []string{"gauss_dsn", "legacy_dsn"} {
		pw := env[k][strings.Index(env[k], "pay:")+4 : strings.Index(env[k], "@")]
		if strings.Contains(errs, pw) {
			t.Errorf("lab up logs show a password: %s", errs)
		}
	}
}

// SIGTERM ends a command that waits on a server that never answers within the grace
// period, with a message and a non-zero exit.
func TestSIGTERMEndsAHungCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds xckit")
	}
	bin := filepath.Join(t.TempDir(), "xckit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	silent := nettest.Silent(t)
	// cdc wait polls for up to --timeout: long enough to be hung for this test.
	cmd := exec.Command(bin, "cdc", "wait", "--source", "opengauss://pay:pw@"+silent+"/payd",
		"--target", "mysql://pay:pw@"+silent+"/payd", "--timeout", "10m")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	took := time.Since(sent)
	if err == nil || took > stopGrace+500*time.Millisecond {
		t.Errorf("after SIGTERM: exit %v after %v, want non-zero within %v\n%s", err, took, stopGrace, errb.String())
	}
	if !strings.Contains(errb.String(), "terminated: stopping") {
		t.Errorf("no message on SIGTERM: %s", errb.String())
	}
}
