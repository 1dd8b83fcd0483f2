package selftest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/lab"
	"github.com/xckit/xckit/selftest"
)

// The self-test passes on the lab's gauss (the openGauss front, its plugin, its
// privilege model) and leaves nothing behind; where the platform's role may not create
// tables it says so, and still cleans up.
func TestSelftestOnTheLab(t *testing.T) {
	env := labtest.Ensure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, cdcDSN, name := freshTarget(t, env)
	rep, err := selftest.Run(ctx, selftest.Options{DB: app, AdminDB: env.GaussAdminDSN, CDCDB: cdcDSN.URL()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	if strings.Join(names, ",") != "login,server,compatibility,create,xlog,decode,slot-copy,upsert,fence,cleanup" || !rep.OK || len(rep.Leftovers) != 0 {
		t.Errorf("report: %+v", rep)
	}
	for _, want := range []string{"pay (--db): openGauss sha256 (code 10), 10000 iterations", "xckit_cdc (--cdc-db): openGauss sm3 (code 13)"} {
		if !strings.Contains(rep.Checks[0].Detail, want) {
			t.Errorf("login: %q lacks %q", rep.Checks[0].Detail, want)
		}
	}
	if strings.Contains(fmt.Sprintf("%+v", rep), cdcDSN.Password) {
		t.Error("a password reached the report")
	}

	// Without CREATE on its schema: the check names it, cleanup still proves nothing left.
	admin, err := dbx.Open(ctx, env.GaussAdminDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ad, _ := dbx.ParseDSN(env.GaussAdminDSN)
	ad.Database = name
	in, err := dbx.OpenDSN(ctx, ad, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.ExecContext(ctx, "REVOKE CREATE ON SCHEMA public FROM pay"); err != nil {
		t.Fatal(err)
	}
	rep, err = selftest.Run(ctx, selftest.Options{DB: app, AdminDB: env.GaussAdminDSN, CDCDB: cdcDSN.URL()})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]selftest.Check{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
	}
	if rep.OK || byName["create"].OK || !strings.Contains(byName["create"].Detail, "may not create tables in schema public") || !byName["cleanup"].OK {
		t.Errorf("without CREATE: %+v", rep)
	}
}

// On a primary with a streaming standby (its own lab, ports 18832..; the standby's
// front on 18834), the slot-copy check names the standby that keeps no copy of the
// CDC's slot (PostgreSQL's standbys never do, as openGauss's without enable_slot_log)
// and what that means at a failover; the rest of the self-test runs on the primary.
func TestSelftestOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: its own primary and standby")
	}
	_, env := labtest.Own(t, "xckit-selftest-cluster-", lab.Options{GaussPort: 18832, LegacyPort: 18806, LBPort: 18800, GaussStandbys: 1, Parts: []string{"gauss", "gauss-standby1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, cdcDSN, _ := freshTarget(t, env)
	rep, err := selftest.Run(ctx, selftest.Options{DB: app, AdminDB: env.GaussAdminDSN, CDCDB: cdcDSN.URL()})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]selftest.Check{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	copyCheck := byName["slot-copy"].Detail
	for _, want := range []string{"slot made on 127.0.0.1:18832 (the primary)", "127.0.0.1:18834 keep(s) no copy", "enable_slot_log=on"} {
		if !strings.Contains(copyCheck, want) {
			t.Errorf("slot-copy %q lacks %q", copyCheck, want)
		}
	}
	if !rep.OK || len(rep.Leftovers) != 0 {
		t.Errorf("report: %+v", rep)
	}
}

// freshTarget makes a database of the test's own for the platform's role, and the CDC
// user's DSN on it.
func freshTarget(t *testing.T, env lab.Env) (app string, cdcDSN dbx.DSN, name string) {
	t.Helper()
	name = labtest.DatabaseName("selftest", t)
	app = labtest.FreshDatabase(t, env, labtest.Gauss, name)
	cdcDSN, _ = dbx.ParseDSN(env.GaussCDCDSN)
	cdcDSN.Database = name
	return app, cdcDSN, name
}
