package checks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/lab"
)

// A lab with a streaming standby: the cluster checks see both nodes and their roles,
// the cluster DSN reaches the primary; after the primary stops and the standby is
// promoted (a real failover) the same DSN reaches the new primary, and the checks say
// so.
func TestClusterChecksAcrossAFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts its own PostgreSQL primary and standby")
	}
	o, env := labtest.Own(t, "xckit-check-cluster-", lab.Options{GaussPort: 18632, LegacyPort: 18606, LBPort: 18600, GaussStandbys: 1, Parts: []string{"gauss", "gauss-standby1"}})
	ctx := context.Background()
	if !strings.Contains(env.GaussAdminDSN, "127.0.0.1:18632,127.0.0.1:18634/") || !strings.Contains(env.GaussAdminDSN, "target_session_attrs=read-write") {
		t.Fatalf("the lab's DSN should name both nodes: %s", dbx.Redact(env.GaussAdminDSN))
	}
	m := runDB(t, "lab", env.GaussAdminDSN, env.LegacyDSN)
	if r := m["db.reachable"]; r.Status != checks.Pass || !strings.Contains(r.Actual, "127.0.0.1:18632, the node of 2 that accepts writes") {
		t.Errorf("db.reachable: %+v", r)
	}
	r := m["db.cluster.nodes"]
	if r.Status != checks.Pass || !strings.Contains(r.Actual, "127.0.0.1:18632 primary (1 standbys: ") ||
		!strings.Contains(r.Actual, "streaming") || !strings.Contains(r.Actual, "127.0.0.1:18634 standby (received WAL up to 0/") {
		t.Errorf("db.cluster.nodes with a streaming standby: %+v", r)
	}
	if r := m["db.cluster.sync"]; r.Status != checks.Warn || !strings.Contains(r.Actual, "1 standbys attached") || !strings.Contains(r.Actual, "most_available_sync=off") {
		t.Errorf("db.cluster.sync (asynchronous standby): %+v", r)
	}
	if r := m["db.cluster.slots"]; r.Status != checks.Warn || !strings.Contains(r.Actual, "enable_slot_log=off") || !strings.Contains(r.Remedy, "enable_slot_log=on") {
		t.Errorf("db.cluster.slots (openGauss's default enable_slot_log=off): %+v", r)
	}
	if r := m["db.backup"]; r.Status != checks.Warn || !strings.Contains(r.Actual, "archive_mode=off") {
		t.Errorf("db.backup without archiving: %+v", r)
	}

	// Failover: the primary goes, the standby is promoted.
	if err := lab.Down(ctx, lab.Options{Dir: o.Dir, Parts: []string{"gauss"}}, false); err != nil {
		t.Fatal(err)
	}
	m = runDB(t, "lab", env.GaussAdminDSN, env.LegacyDSN)
	if r := m["db.reachable"]; r.Status != checks.Fail {
		t.Errorf("with the primary gone and the standby read-only, no node accepts writes: %+v", r)
	}
	if err := lab.Promote(ctx, o, 1); err != nil {
		t.Fatal(err)
	}
	m = runDB(t, "lab", env.GaussAdminDSN, env.LegacyDSN)
	if r := m["db.reachable"]; r.Status != checks.Pass || !strings.Contains(r.Actual, "127.0.0.1:18634, the node of 2 that accepts writes") {
		t.Errorf("after the failover the cluster DSN reaches the new primary: %+v", r)
	}
	if r := m["db.cluster.nodes"]; r.Status != checks.Fail || !strings.Contains(r.Actual, "127.0.0.1:18632 unreachable") || !strings.Contains(r.Actual, "127.0.0.1:18634 primary (no standby attached)") {
		t.Errorf("db.cluster.nodes after the failover: %+v", r)
	}
}
