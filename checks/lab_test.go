package checks_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/lab"
	"github.com/xckit/xckit/profiles"
)

func runDB(t *testing.T, profile, dsn, legacy string) map[string]checks.Result {
	t.Helper()
	p, err := profiles.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	list, err := checks.ForProfile(p, []string{"db", "legacy"})
	if err != nil {
		t.Fatal(err)
	}
	tg := &checks.Target{Root: "/", Profile: p}
	tg.DB, tg.DBErr = dbx.Open(context.Background(), dsn, dbx.Options{})
	if tg.DB != nil {
		defer tg.DB.Close()
	}
	tg.Legacy, tg.LegErr = dbx.Open(context.Background(), legacy, dbx.Options{})
	if tg.Legacy != nil {
		defer tg.Legacy.Close()
	}
	rep := checks.Run(context.Background(), list, tg, nil)
	m := map[string]checks.Result{}
	for _, r := range rep.Checks {
		m[r.ID] = r
	}
	return m
}

func TestDatabaseChecksOnTheLab(t *testing.T) {
	env := labtest.Ensure(t)
	admin, _ := dbx.ParseDSN(env.GaussAdminDSN)
	admin.Database = "payd"
	m := runDB(t, "lab", admin.URL(), env.LegacyDSN)
	for id, want := range map[string]checks.Status{
		"db.reachable": checks.Pass, "db.engine": checks.Pass, "db.encoding": checks.Pass, "db.wal_level": checks.Pass, "db.compatibility": checks.Pass,
		"db.slots.free": checks.Pass, "db.wal_senders": checks.Pass, "db.param.max_connections": checks.Pass,
		// The administrator is a SYSADMIN without REPLICATION: decoding works for it
		// only while privilege separation is off.
		"db.cdc_user":      checks.Warn,
		"legacy.reachable": checks.Pass, "legacy.charset": checks.Pass, "legacy.binlog": checks.Pass, "legacy.timezone": checks.Pass,
	} {
		if m[id].Status != want {
			t.Errorf("%s: %s, want %s: %+v", id, m[id].Status, want, m[id])
		}
	}
	// The application user cannot use slots; the production profile wants more
	// connections than the lab has; a wrong password is "could not connect".
	m = runDB(t, "kunpeng920-euleros2", env.GaussDSN, env.LegacyDSN)
	if r := m["db.cdc_user"]; r.Status != checks.Fail || r.Remedy == "" {
		t.Errorf("db.cdc_user for the app user: %+v", r)
	}
	if r := m["db.param.max_connections"]; r.Status != checks.Fail {
		t.Errorf("max_connections against >=1000: %+v", r)
	}
	// The lab's CDC user has REPLICATION.
	if r := runDB(t, "lab", env.GaussCDCDSN, env.LegacyDSN)["db.cdc_user"]; r.Status != checks.Pass {
		t.Errorf("db.cdc_user for the lab's CDC user: %+v", r)
	}
	// PostgreSQL itself (behind the lab's front), with a profile that does not accept it.
	if r := runDB(t, "kunpeng920-euleros2", env.GaussPostgresDSN, env.LegacyDSN)["db.engine"]; r.Status != checks.Fail {
		t.Errorf("PostgreSQL with a profile that does not accept it: %+v", r)
	}
	bad, _ := dbx.ParseDSN(env.GaussDSN)
	bad.Password = "wrong-password"
	m = runDB(t, "lab", bad.URL(), env.LegacyDSN)
	if m["db.reachable"].Status != checks.Fail || m["db.wal_level"].Status != checks.Error {
		t.Errorf("wrong password: reachable %+v, wal_level %+v", m["db.reachable"], m["db.wal_level"])
	}
}

// TestBrokenWalLevel restarts a PostgreSQL of the test's own with wal_level=replica:
// db.wal_level must fail with the remedy, and pass again once it is logical.
func TestBrokenWalLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts its own PostgreSQL")
	}
	dir, _ := os.MkdirTemp("", "xckit-check-wal-")
	os.Chmod(dir, 0o755)
	o := lab.Options{Dir: dir, GaussPort: 19832, LegacyPort: 19806, LBPort: 19800, Parts: []string{"gauss"}}
	t.Cleanup(func() { lab.Down(context.Background(), o, true); os.RemoveAll(dir) })
	ctx := context.Background()
	if _, err := lab.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	env, _ := lab.EnvOf(o)
	admin, err := dbx.Open(ctx, env.GaussAdminDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin.Exec("ALTER SYSTEM SET wal_level = replica")
	admin.Close()
	if err := lab.Restart(ctx, o, "gauss"); err != nil {
		t.Fatal(err)
	}
	m := runDB(t, "lab", env.GaussAdminDSN, "mysql://x:y@127.0.0.1:1/x")
	if r := m["db.wal_level"]; r.Status != checks.Fail || r.Actual != "replica" || !strings.Contains(r.Remedy, "wal_level=logical") {
		t.Errorf("wal_level=replica: %+v", r)
	}
	if r := m["legacy.reachable"]; r.Status != checks.Fail {
		t.Errorf("an unreachable legacy database: %+v", r)
	}
	admin, _ = dbx.Open(ctx, env.GaussAdminDSN, dbx.Options{})
	admin.Exec("ALTER SYSTEM RESET wal_level")
	admin.Close()
	lab.Restart(ctx, o, "gauss")
	if r := runDB(t, "lab", env.GaussAdminDSN, env.GaussDSN)["db.wal_level"]; r.Status != checks.Pass {
		t.Errorf("after the fix: %+v", r)
	}
}
