package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xckit/xckit/internal/labtest"
)

// goodSite is a complete site.yaml whose addresses answer nothing (no command here
// gets as far as using them).
const goodSite = `profile: lab
new:
  db: postgres://pay:pw@127.0.0.1:1/payd
  admin_db: postgres://adm:pw@127.0.0.1:1/postgres
  cdc_source: postgres://rep:pw@127.0.0.1:1/payd
  prefix: /nonexistent/xckit-site-test
  listen: 127.0.0.1:1
legacy:
  db: mysql://pay:pw@127.0.0.1:1/payd
  start: "true"
  stop: "true"
  ready: http://127.0.0.1:1/readyz
  wait: 30s
switch:
  driver: nginx
  nginx:
    route_file: /nonexistent/route.conf
    upstreams: {new: "127.0.0.1:1", legacy: "127.0.0.1:2"}
  probe: http://127.0.0.1:1
cdc:
  slot: xckit_cdc
  budget: 30s
smoke:
  merchant: m
  key: k
  agreement: ag-seed-1
`

// Bad input: exit 2 and one message naming the file, line, field or flag and what to do.
func TestBadInputMessages(t *testing.T) {
	dir := t.TempDir()
	write := func(name, from, to string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		body := goodSite
		if from != "" {
			if !strings.Contains(body, from) {
				t.Fatalf("%s: %q not in the site", name, from)
			}
			body = strings.Replace(body, from, to, 1)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	budget := write("budget.yaml", "budget: 30s", "budget: soon", 0o600)
	wait := write("wait.yaml", "wait: 30s", "wait: -5s", 0o600)
	driver := write("driver.yaml", "driver: nginx", "driver: teleport", 0o600)
	open := write("open.yaml", "", "", 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string // the whole of stderr
	}{
		{"a duration that is not one", []string{"rollback", "--plan", "--site", budget}, 2,
			"xckit: site " + budget + `: line 22 (field cdc.budget): bad duration "soon": write a number with a unit: 45ms, 2s, 10m, 1h`},
		{"a negative wait", []string{"rollback", "--plan", "--site", wait}, 2,
			"xckit: site " + wait + `: line 13 (field legacy.wait): bad duration "-5s": write a number with a unit: 45ms, 2s, 10m, 1h`},
		{"an unknown switch driver", []string{"cutover", "--plan", "--site", driver}, 2,
			"xckit: site " + driver + `: switch.driver "teleport": use nginx, haproxy or exec`},
		{"a site others can read", []string{"rollback", "--plan", "--site", open}, 2,
			fmt.Sprintf("xckit: site %s is readable by others (0644) and holds passwords: chmod 600 %s", open, open)},
		{"an unknown decoding plugin", []string{"cdc", "init", "--plugin", "nosuchplugin", "--source", "postgres://a:b@127.0.0.1:1/x", "--target", "mysql://a:b@127.0.0.1:1/x"}, 2,
			`xckit: --plugin: no decoder for plugin "nosuchplugin": xckit decodes mppdb_decoding, test_decoding, wal2json`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.args...)
			if code != c.code || strings.TrimSpace(errs) != c.want {
				t.Errorf("%v: exit %d (want %d)\nstderr: %s\nwant:   %s\nstdout: %s", c.args, code, c.code, errs, c.want, out)
			}
		})
	}
}

// Bad input that needs a real database: a wrong password names the refusal whole; a
// cdc run without cdc init says to run it.
func TestBadInputOnTheLab(t *testing.T) {
	env := labtest.Ensure(t)
	wrong := strings.Replace(env.GaussAdminDSN, "@", "x@", 1) // the password gets an x
	if i := strings.Index(wrong, "://"); i > 0 {
		u := wrong[i+3:]
		user, rest, _ := strings.Cut(u, ":")
		_, host, _ := strings.Cut(rest, "@")
		wrong = wrong[:i+3] + user + ":not-the-password@" + host
	}
	code, out, errs := runCLI(t, "check", "--scope", "db", "--db", wrong)
	if code == 0 || !strings.Contains(out+errs, "Invalid username/password,login denied.") {
		t.Errorf("check with a wrong password must name the refusal: exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Contains(out+errs, "not-the-password") {
		t.Errorf("the password reached the output:\n%s\n%s", out, errs)
	}
	target := labtest.FreshDatabase(t, env, labtest.Legacy, labtest.DatabaseName("nockpt", t))
	code, _, errs = runCLI(t, "cdc", "run", "--source", env.GaussDSN, "--target", target, "--slot", "xckit_never_made")
	if code == 0 || !strings.Contains(errs, "xckit cdc init") || strings.Contains(errs, "Error 1146") {
		t.Errorf("cdc run before cdc init: exit %d: %s", code, errs)
	}
}

// Every command that takes -o json prints exactly one JSON document on stdout, also
// when it fails; step lines and progress go to stderr.
func TestEveryJSONOutputParses(t *testing.T) {
	env := labtest.Ensure(t)
	site := filepath.Join(labtest.Dir(), "site.yaml")
	cases := [][]string{
		{"version"},
		{"profile", "list"},
		{"profile", "show", "lab"},
		{"profile", "validate", "../../profiles/testdata/good/site.yaml"},
		{"lab", "status", "--dir", labtest.Dir()},
		{"lab", "env", "--dir", labtest.Dir()},
		{"check", "--db", env.GaussAdminDSN, "--legacy", env.LegacyDSN},
		{"rollback", "--plan", "--site", site},
		{"cutover", "--plan", "--site", site},
		{"install", "--plan", "--db", env.GaussDSN, "--admin-db", env.GaussAdminDSN, "--prefix", t.TempDir()},
		{"verify", "--source", env.GaussDSN, "--target", env.LegacyDSN, "--tables", "accounts"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
			code, out, errs := runCLI(t, append(args, "-o", "json")...)
			dec := json.NewDecoder(strings.NewReader(out))
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%v (exit %d): stdout is not JSON: %v\nstdout: %s\nstderr: %s", args, code, err, out, errs)
			}
			if _, err := dec.Token(); err != io.EOF {
				t.Errorf("%v: stdout holds more than one JSON document:\n%s", args, out)
			}
		})
	}
}

// A rollback that finds nothing to do (or refuses) keeps the last real run's report,
// the RTO/RPO evidence, and prints its own verdict as the one JSON document.
func TestRepeatedRollbackKeepsTheReport(t *testing.T) {
	labtest.Ensure(t)
	site := filepath.Join(labtest.Dir(), "site.yaml")
	report := filepath.Join(labtest.Dir(), "new", "state", "rollback-report.json")
	os.MkdirAll(filepath.Dir(report), 0o755)
	evidence := []byte(`{"kind":"rollback","verdict":"ok","rto_seconds":1.2}` + "\n")
	if err := os.WriteFile(report, evidence, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(report)
	code, out, errs := runCLI(t, "rollback", "--site", site, "--yes", "-o", "json")
	var rep struct{ Verdict string }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || (rep.Verdict != "nothing-to-do" && rep.Verdict != "refused") {
		t.Fatalf("rollback on the untouched test lab: exit %d, %q\n%s", code, out, errs)
	}
	if b, _ := os.ReadFile(report); string(b) != string(evidence) {
		t.Errorf("the last rollback's report was overwritten by a run that changed nothing: %s", b)
	}
}
