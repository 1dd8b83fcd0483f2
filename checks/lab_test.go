package checks_test

import (
	"context"
	"testing"

	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
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
		"db.reachable": checks.Pass, "db.engine": checks.Warn, "db.encoding": checks.Pass, "db.wal_level": checks.Pass,
		"db.slots.free": checks.Pass, "db.wal_senders": checks.Pass, "db.cdc_user": checks.Pass, "db.param.max_connections": checks.Pass,
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
	if r := m["db.engine"]; r.Status != checks.Fail {
		t.Errorf("PostgreSQL with a profile that does not accept it: %+v", r)
	}
	bad, _ := dbx.ParseDSN(env.GaussDSN)
	bad.Password = "wrong-password"
	m = runDB(t, "lab", bad.URL(), env.LegacyDSN)
	if m["db.reachable"].Status != checks.Fail || m["db.wal_level"].Status != checks.Error {
		t.Errorf("wrong password: reachable %+v, wal_level %+v", m["db.reachable"], m["db.wal_level"])
	}
}
