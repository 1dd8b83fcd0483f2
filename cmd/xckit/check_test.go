package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	kylin := "../../checks/testdata/hosts/kylin-v10-kunpeng920"
	cases := []struct {
		name  string
		args  []string
		code  int
		inOut string
		inErr string
	}{
		{"kylin fixture passes CPU and OS", []string{"check", "--scope", "host", "--profile", "kunpeng920-kylinv10", "--host-root", kylin}, 0, "PASS    cpu.model", ""},
		{"this machine is not a Kunpeng", []string{"check", "--scope", "host", "--profile", "kunpeng920-kylinv10"}, 1, "FAIL    os.release", "accept them with --ignore"},
		{"unknown ignore id", []string{"check", "--scope", "host", "--ignore", "os.nope"}, 2, "", "--ignore os.nope: no such check"},
		{"bad scope", []string{"check", "--scope", "moon"}, 2, "", `unknown scope "moon"`},
		{"bad host root", []string{"check", "--scope", "host", "--host-root", "/nonexistent"}, 2, "", "not a directory"},
		{"junit only for check", []string{"version", "-o", "junit"}, 2, "", "junit is for xckit check"},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(out, c.inOut) || !strings.Contains(errs, c.inErr) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %.600s\nstderr: %s", c.name, code, c.code, out, errs)
		}
	}
}

func TestCheckOutputsAndFix(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../checks/testdata/hosts/euleros2-kunpeng920")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "check.xml")
	code, stdout, _ := runCLI(t, "check", "--scope", "host", "--profile", "kunpeng920-euleros2", "--host-root", root, "-o", "junit", "--out", out)
	if code != 1 {
		t.Fatalf("untuned EulerOS: exit %d", code)
	}
	file, _ := os.ReadFile(out)
	if string(file) != stdout {
		t.Error("--out must hold the same report as stdout")
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(file, &suites); err != nil || suites.Suites[0].Failures == 0 || suites.Suites[0].Tests < 20 {
		t.Fatalf("junit: %v %+v", err, suites)
	}
	// --fix shows, --fix --yes applies under the root; then the fixable checks pass.
	_, _, errs := runCLI(t, "check", "--scope", "host", "--profile", "kunpeng920-euleros2", "--host-root", root, "--fix")
	if !strings.Contains(errs, "fix: sysctl net.core.somaxconn = 65535") || !strings.Contains(errs, "--yes") {
		t.Errorf("--fix plan: %s", errs)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/sysctl.d/90-xckit.conf")); err == nil {
		t.Error("--fix without --yes must not write")
	}
	runCLI(t, "check", "--scope", "host", "--profile", "kunpeng920-euleros2", "--host-root", root, "--fix", "--yes")
	code, stdout, _ = runCLI(t, "check", "--scope", "host", "--profile", "kunpeng920-euleros2", "--host-root", root, "-o", "json")
	var rep struct {
		Schema int `json:"schema"`
		Checks []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Schema != 1 {
		t.Fatalf("json: %v", err)
	}
	var stillFailing []string
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			stillFailing = append(stillFailing, c.ID)
		}
	}
	if code != 1 || strings.Join(stillFailing, ",") != "time.sync" {
		t.Errorf("after --fix --yes only time.sync (no automatic fix) should fail; got %v (exit %d)", stillFailing, code)
	}
}
