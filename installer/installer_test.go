package installer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/internal/runbook"
	"github.com/xckit/xckit/profiles"
)

var update = flag.Bool("update", false, "rewrite golden files")

func buildPayd(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "payd")
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/xckit/xckit/internal/buildinfo.Version="+version, "-o", bin, "../cmd/payd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build payd: %v %s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	return ln.Addr().String()
}

// fixture is a fresh target for one install: its own role, database and prefix.
func fixture(t *testing.T, name string) Options {
	t.Helper()
	env := labtest.Ensure(t)
	admin, _ := dbx.ParseDSN(env.GaussAdminDSN)
	db, _ := dbx.Open(context.Background(), admin.URL(), dbx.Options{})
	db.Exec(fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'`, name))
	db.Exec(`DROP DATABASE IF EXISTS "` + name + `"`)
	db.Exec(`DROP ROLE IF EXISTS "` + name + `"`)
	db.Close()
	app := admin
	app.User, app.Password, app.Database = name, "Pw-"+name+"-0123", name
	p, _ := profiles.Load("lab")
	prefix := filepath.Join(t.TempDir(), "prefix")
	o := Options{Profile: p, DB: app.URL(), AdminDB: env.GaussAdminDSN, Prefix: prefix, Listen: freeAddr(t), PaydBin: buildPayd(t, "v1"), Version: "v1", HealthWait: 20 * time.Second}
	t.Setenv("XCKIT_MERCHANT_ID", "m-inst")
	t.Setenv("XCKIT_MERCHANT_KEY", "k-inst-0123456789abcdef")
	t.Cleanup(func() { Uninstall(context.Background(), o, true) })
	return o
}

func ready(t *testing.T, o Options) string {
	t.Helper()
	resp, err := http.Get("http://" + o.Listen + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("readyz: %d %s", resp.StatusCode, b.String())
	}
	return b.String()
}

func TestInstallTwiceUpgradeRollbackUninstall(t *testing.T) {
	o := fixture(t, "inst_full")
	var out bytes.Buffer
	o.Out = &out
	rep, err := Install(context.Background(), o)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out.String())
	}
	if rep.Changes < 6 || !strings.Contains(out.String(), "smoke: agreement") {
		t.Errorf("first install: %d changes\n%s", rep.Changes, out.String())
	}
	if !strings.Contains(ready(t, o), `"version":"v1"`) {
		t.Error("readyz should report v1")
	}
	if st, _ := os.Stat(o.etc("payd.yaml")); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("payd.yaml must be 0600: %v", st)
	}
	if b, _ := os.ReadFile(o.etc("payd.yaml")); strings.Contains(string(b), "xcadmin") {
		t.Error("the admin DSN must never be stored")
	}
	out.Reset()
	rep, err = Install(context.Background(), o)
	if err != nil || rep.Changes != 0 || !strings.Contains(out.String(), "install complete: 0 changes") {
		t.Errorf("second install: %v, %d changes\n%s", err, rep.Changes, out.String())
	}
	// Upgrade to v2 and back.
	up := o
	up.PaydBin, up.Version = buildPayd(t, "v2"), "v2"
	if _, err := Upgrade(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ready(t, o), `"version":"v2"`) {
		t.Error("after upgrade readyz should report v2")
	}
	if v, err := RollbackApp(context.Background(), o); err != nil || v != "v1" {
		t.Fatalf("rollback-app: %v %s", err, v)
	}
	if !strings.Contains(ready(t, o), `"version":"v1"`) {
		t.Error("after rollback-app readyz should report v1")
	}
	pid := (&run{o: o}).paydPID()
	did, err := Uninstall(context.Background(), o, true)
	if err != nil {
		t.Fatalf("uninstall: %v %v", err, did)
	}
	// The CDC role was the cluster's before install (the lab's): it stays.
	if !strings.Contains(strings.Join(did, "\n"), "kept role xckit_cdc") {
		t.Errorf("uninstall --drop-data must keep a role install did not create: %v", did)
	}
	if _, err := os.Stat(o.Prefix); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(o.Prefix)
		t.Errorf("uninstall left %v", entries)
	}
	if pid == 0 || exec.Command("kill", "-0", fmt.Sprint(pid)).Run() == nil {
		t.Errorf("payd pid %d still runs after uninstall", pid)
	}
}

func TestPlanTouchesNothing(t *testing.T) {
	o := fixture(t, "inst_plan")
	var out bytes.Buffer
	o.Out, o.Plan = &out, true
	if _, err := Install(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.Prefix); !os.IsNotExist(err) {
		t.Errorf("--plan created %s", o.Prefix)
	}
	admin, _ := dbx.Open(context.Background(), o.AdminDB, dbx.Options{})
	defer admin.Close()
	var n int
	admin.QueryRow("SELECT count(*) FROM pg_roles WHERE rolname = 'inst_plan'").Scan(&n)
	if n != 0 {
		t.Error("--plan created the role")
	}
	plan := out.String()
	for _, want := range []string{"would create role inst_plan", "would create database inst_plan", "would copy payd", "would start payd", "os-tune       skipped"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "Pw-inst_plan") {
		t.Error("the plan shows a password")
	}
}

// TestKilledMidPhaseResumes stops the install after N actions, as a kill would: the
// next run refuses as dirty, --resume completes, and the result is a clean install.
func TestKilledMidPhaseResumes(t *testing.T) {
	// One install makes 8 changing actions here (role, database, schema, binary, link,
	// config, unit, start): stopping after each, every phase is interrupted once.
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
		t.Run(fmt.Sprint("after_", n, "_actions"), func(t *testing.T) {
			o := fixture(t, fmt.Sprintf("inst_kill%d", n))
			killAfter := func(actions int) error {
				if actions >= n {
					return fmt.Errorf("killed after %d actions: %w", actions, runbook.ErrKilled)
				}
				return nil
			}
			if _, err := install(context.Background(), o, killAfter); !errors.Is(err, runbook.ErrKilled) {
				t.Fatalf("hook: %v", err)
			}
			var dirty *DirtyError
			if _, err := Install(context.Background(), o); !errors.As(err, &dirty) {
				t.Fatalf("after a kill the next run must refuse as dirty, got %v", err)
			}
			o.Resume = true
			if _, err := Install(context.Background(), o); err != nil {
				t.Fatalf("--resume: %v", err)
			}
			ready(t, o)
			o.Resume = false
			var out bytes.Buffer
			o.Out = &out
			if rep, err := Install(context.Background(), o); err != nil || rep.Changes != 0 {
				t.Errorf("after resume a full run must find nothing to change: %v %d\n%s", err, rep.Changes, out.String())
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	o := fixture(t, "inst_bad")
	cases := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"unreachable database", func(o *Options) { o.DB = "postgres://x:y@127.0.0.1:1/x"; o.AdminDB = "" }, "db.reachable"},
		{"wrong admin password", func(o *Options) {
			d, _ := dbx.ParseDSN(o.AdminDB)
			d.Password = "wrong"
			o.AdminDB = d.URL()
			o.SkipPhases = []string{"preflight"}
		}, "admin database"},
		{"prefix not writable", func(o *Options) {
			o.Prefix = "/proc/xckit"
			o.SkipPhases = []string{"preflight", "db-bootstrap", "schema"}
		}, "/proc/xckit"},
	}
	for _, c := range cases {
		oo := o
		c.change(&oo)
		_, err := Install(context.Background(), oo)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), "password=wrong") {
			t.Errorf("%s: error shows a password", c.name)
		}
	}
	// No merchant key anywhere.
	t.Setenv("XCKIT_MERCHANT_KEY", "")
	oo := o
	oo.SkipPhases = []string{"preflight", "db-bootstrap", "schema"}
	if _, err := Install(context.Background(), oo); err == nil || !strings.Contains(err.Error(), "no merchant key") {
		t.Errorf("missing secret: %v", err)
	}
}

func TestUnitGolden(t *testing.T) {
	got := RenderUnit("/opt/xckit", "payd")
	golden := filepath.Join("testdata", "payd.service.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil || string(want) != got {
		t.Errorf("unit differs from %s (go test ./installer -update):\n%s", golden, got)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		unit := filepath.Join(dir, "payd-xckit.service")
		os.WriteFile(unit, []byte(RenderUnit(dir, "root")), 0o644)
		os.MkdirAll(filepath.Join(dir, "payd", "current"), 0o755)
		os.WriteFile(filepath.Join(dir, "payd", "current", "payd"), []byte("#!/bin/sh\n"), 0o755)
		if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}

func TestFencedRoleRefusesInstall(t *testing.T) {
	o := fixture(t, "inst_fenced")
	if _, err := Install(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	admin, _ := dbx.Open(context.Background(), o.AdminDB, dbx.Options{})
	defer admin.Close()
	admin.Exec(`ALTER ROLE inst_fenced SET default_transaction_read_only = on`)
	_, err := Install(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "fenced read-only") {
		t.Errorf("installing onto a fenced role: %v", err)
	}
	admin.Exec(`ALTER ROLE inst_fenced RESET default_transaction_read_only`)
}

// A stranger on the port makes start fail naming it; a payd that exits at once is
// reported from its log, not blamed on the database after a health wait.
func TestStartRefusesATakenPort(t *testing.T) {
	o := fixture(t, "inst_taken")
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready","pid":1}`)) }))
	_, err = Install(context.Background(), o)
	want := fmt.Sprintf("port %s is taken by pid %d", o.Listen, os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "phase start") {
		t.Fatalf("install beside a stranger: %v; want %q in phase start", err, want)
	}
}

// The application database as gs_initdb leaves it: schema public owned by the
// initial user, CREATE revoked from PUBLIC, so owning the database gives no CREATE
// there. db-bootstrap grants what the migrations need; the install goes through.
func TestInstallOntoOpenGaussPublicSchema(t *testing.T) {
	o := fixture(t, "inst_gs")
	app, _ := dbx.ParseDSN(o.DB)
	ctx := context.Background()
	admin, err := dbx.Open(ctx, o.AdminDB, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", app.User, app.Password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0 DBCOMPATIBILITY 'PG'", app.Database, app.User),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// The lab's gauss makes every database as gs_initdb does: public belongs to the
	// initial user and PUBLIC may not create there. The lab's CDC role (REPLICATION,
	// nothing else) must be granted what it reads, also the tables migrations make.
	var out bytes.Buffer
	o.Out = &out
	if _, err := Install(ctx, o); err != nil {
		t.Fatalf("install onto a gs_initdb-like public schema: %v\n%s", err, out.String())
	}
	cd, _ := dbx.ParseDSN(labtest.Ensure(t).GaussCDCDSN)
	cd.Database = app.Database
	cdcDB, err := dbx.OpenDSN(ctx, cd, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cdcDB.Close()
	var n int
	if err := cdcDB.QueryRow("SELECT count(*) FROM payments").Scan(&n); err != nil {
		t.Errorf("the CDC role cannot read the platform's tables: %v", err)
	}
	if !strings.Contains(out.String(), "granted "+app.User+" CREATE on schema public") {
		t.Errorf("the grant is not reported:\n%s", out.String())
	}
	out.Reset()
	if rep, err := Install(ctx, o); err != nil || rep.Changes != 0 {
		t.Errorf("a second install must change nothing: %v, %d changes\n%s", err, rep.Changes, out.String())
	}
}
