package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// DefaultCDCSlot is the reverse CDC's slot name the cluster checks look for on every
// node unless told another (xckit cdc's --slot default).
const DefaultCDCSlot = "xckit_cdc"

// node is one node of the --db DSN as the cluster checks saw it.
type node struct {
	addr     dbx.Endpoint
	db       *dbx.DB
	err      error
	standby  bool
	replicas []dbx.Replica // a primary's
	received string        // a standby's
}

// clusterNodes opens every node the DSN names, alone (no target_session_attrs), and
// reads its role; the caller closes them.
func clusterNodes(ctx context.Context, db *dbx.DB) []*node {
	var out []*node
	for _, d := range db.DSN.Nodes() {
		n := &node{addr: dbx.Endpoint{Host: d.Host, Port: d.Port}}
		out = append(out, n)
		n.db, n.err = dbx.OpenDSN(ctx, d, dbx.Options{ConnectTimeout: 3 * time.Second, MaxOpenConns: 1, AppName: "xckit-check"})
		if n.err != nil {
			continue
		}
		if n.standby, n.err = n.db.InRecovery(ctx); n.err != nil {
			continue
		}
		if n.standby {
			n.received, n.err = n.db.Received(ctx)
		} else {
			n.replicas, n.err = n.db.Replicas(ctx)
		}
	}
	return out
}

func closeNodes(ns []*node) {
	for _, n := range ns {
		if n.db != nil {
			n.db.Close()
		}
	}
}

func (n *node) describe() string {
	switch {
	case n.err != nil:
		return fmt.Sprintf("%s unreachable (%s)", n.addr, dbx.Redact(n.err.Error()))
	case n.standby:
		got := n.received
		if got == "" {
			got = "nothing yet"
		}
		return fmt.Sprintf("%s standby (received WAL up to %s)", n.addr, got)
	}
	var rs []string
	for _, r := range n.replicas {
		rs = append(rs, fmt.Sprintf("%s %s %s, replayed %s", r.Name, strings.ToLower(r.State), strings.ToLower(r.SyncState), r.ReplayLSN))
	}
	if len(rs) == 0 {
		return fmt.Sprintf("%s primary (no standby attached)", n.addr)
	}
	return fmt.Sprintf("%s primary (%d standbys: %s)", n.addr, len(rs), strings.Join(rs, "; "))
}

// checkDbClusterNodes is db.cluster.nodes: every node's role and replication state.
// One primary, and every standby the DSN names streaming from it; a standby the
// primary feeds that the DSN does not name is a warning (the kit could not follow
// the primary there after a failover).
func checkDbClusterNodes(ctx context.Context, t *Target, db *dbx.DB) Result {
	ns := clusterNodes(ctx, db)
	defer closeNodes(ns)
	var lines []string
	primaries, standbys, down, attached := 0, 0, 0, 0
	for _, n := range ns {
		lines = append(lines, n.describe())
		switch {
		case n.err != nil:
			down++
		case n.standby:
			standbys++
		default:
			primaries++
			for _, r := range n.replicas {
				if strings.EqualFold(r.State, "streaming") {
					attached++
				}
			}
		}
	}
	actual := strings.Join(lines, " | ")
	want := "one primary; every standby of the DSN streaming from it"
	switch {
	case primaries > 1:
		return failed(want, actual, "more than one node accepts writes (split brain): fence all but one (xckit rollback fences the new side) before anything writes again, then rebuild the others as standbys")
	case primaries == 0:
		return failed(want, actual, "no node of the DSN accepts writes: promote a standby (openGauss: gs_ctl failover -D $PGDATA; the lab: a test promotes gauss-standby1) or fix the DSN")
	case down > 0:
		return failed(want, actual, "a node of the DSN does not answer: start it, or take it out of the DSN")
	case attached < standbys:
		return failed(want, actual, "a standby is not streaming: look at its log (openGauss: gs_ctl query -D $PGDATA) and rebuild it (gs_ctl build) if it fell behind")
	case attached > standbys:
		return warn(want, actual, "the primary feeds standbys the DSN does not name: list every node in the DSN (h1:5432,h2:5432,...?target_session_attrs=read-write) so that the kit follows the primary after a failover")
	}
	return pass(want, actual)
}

// checkDbClusterSync is db.cluster.sync: whether a commit waits for a standby. Without
// it a failover can lose acknowledged payments; openGauss's most_available_sync
// lets the primary go on alone when every synchronous standby is down.
func checkDbClusterSync(ctx context.Context, t *Target, db *dbx.DB) Result {
	want := "synchronous_standby_names set when standbys exist (semi-synchronous)"
	names, err := db.Setting(ctx, "synchronous_standby_names")
	if err != nil {
		return couldNot(want, err, "")
	}
	commit, _ := db.Setting(ctx, "synchronous_commit")
	replicas, err := db.Replicas(ctx)
	if err != nil {
		return couldNot(want, err, "")
	}
	actual := fmt.Sprintf("synchronous_standby_names=%q, synchronous_commit=%s, %d standbys attached", names, commit, len(replicas))
	if db.Dialect.Engine == dbx.OpenGauss {
		if v, err := db.Setting(ctx, "most_available_sync"); err == nil {
			actual += ", most_available_sync=" + v
		}
	}
	if len(replicas) == 0 {
		return pass(want, actual+" (no standby: nothing to wait for)")
	}
	if strings.TrimSpace(names) == "" || commit == "off" || commit == "local" {
		return warn(want, actual, "commits do not wait for a standby: a failover loses what the primary acknowledged last; "+
			db.Dialect.SetParameterHint("synchronous_standby_names", "ANY 1(*)"))
	}
	return pass(want, actual)
}

// checkDbClusterSlots is db.cluster.slots: the CDC slot on every node. openGauss
// copies logical slots to its standbys only with enable_slot_log = on (a USERSET
// parameter, default off: the slot's create, advance and drop go into the WAL and a
// standby replays them); PostgreSQL 15 never does. Where the slot is not on a
// standby, a failover ends the reverse CDC: `cdc run` stops and names the window,
// and `xckit cdc init` after the failover plus `xckit verify --repair` close it
// (docs/rollback.md, "The primary changed").
func checkDbClusterSlots(ctx context.Context, t *Target, db *dbx.DB) Result {
	slot := t.CDCSlot
	if slot == "" {
		slot = DefaultCDCSlot
	}
	want := "the CDC slot " + slot + " on every node"
	ns := clusterNodes(ctx, db)
	defer closeNodes(ns)
	q, err := db.Dialect.SlotInfoSQL()
	if err != nil {
		return couldNot(want, err, "")
	}
	var have, missing []string
	for _, n := range ns {
		if n.err != nil {
			missing = append(missing, n.addr.String()+" (unreachable)")
			continue
		}
		var plugin, restart, confirmed string
		var active bool
		if err := n.db.QueryRowContext(ctx, q, slot).Scan(&plugin, &active, &restart, &confirmed); err != nil {
			missing = append(missing, n.addr.String())
			continue
		}
		have = append(have, fmt.Sprintf("%s (confirmed %s)", n.addr, confirmed))
	}
	actual := "on " + strings.Join(have, ", ")
	if len(have) == 0 {
		actual = "on no node"
	}
	if len(missing) > 0 {
		actual += "; missing on " + strings.Join(missing, ", ")
	}
	slotLog := ""
	if db.Dialect.Engine == dbx.OpenGauss {
		v, err := db.Setting(ctx, "enable_slot_log")
		if err != nil {
			return couldNot(want, err, "")
		}
		slotLog = v
		actual += ", enable_slot_log=" + v
	}
	switch {
	case len(have) == 0 && len(ns) == 1:
		return pass(want, actual+" (single node: no slot yet, xckit cdc init makes it)")
	case len(missing) == 0:
		return pass(want, actual)
	case db.Dialect.Engine == dbx.OpenGauss && slotLog != "on":
		return warn(want, actual, "the slot is not copied to the standbys: a failover ends the reverse CDC. "+
			db.Dialect.SetParameterHint("enable_slot_log", "on")+"; then re-create the slot (xckit cdc drop, xckit cdc init) while nothing writes, so that the standbys get it")
	case db.Dialect.Engine == dbx.OpenGauss:
		return warn(want, actual, "enable_slot_log is on but a node lacks the slot: it was made before the setting; re-create it while nothing writes (xckit cdc drop, xckit cdc init)")
	}
	return warn(want, actual, "PostgreSQL 15 keeps logical slots on the primary only: after a failover cdc run stops and names the window; follow docs/rollback.md, \"The primary changed\"")
}

// checkDbBackup is db.backup: ready for point-in-time recovery — WAL archived
// (archive_mode on with an archive command; openGauss may archive to archive_dest)
// and the archiver not failing.
func checkDbBackup(ctx context.Context, t *Target, db *dbx.DB) Result {
	want := "WAL archived (archive_mode on, archiving succeeds)"
	mode, err := db.Setting(ctx, "archive_mode")
	if err != nil {
		return couldNot(want, err, "")
	}
	cmd, _ := db.Setting(ctx, "archive_command")
	if db.Dialect.Engine == dbx.OpenGauss && strings.TrimSpace(cmd) == "" {
		cmd, _ = db.Setting(ctx, "archive_dest")
	}
	actual := fmt.Sprintf("archive_mode=%s, archive target %q", mode, cmd)
	if mode == "off" || strings.TrimSpace(cmd) == "" || strings.TrimSpace(cmd) == "(disabled)" {
		return warn(want, actual, "no point-in-time recovery: "+db.Dialect.SetParameterHint("archive_mode", "on")+
			" and set archive_command (openGauss: or archive_dest), then take a base backup (gs_probackup backup / pg_basebackup)")
	}
	var failed, archived int64
	var last string
	if err := db.QueryRowContext(ctx, "SELECT failed_count, archived_count, COALESCE(last_archived_time::text, '') FROM pg_stat_archiver").Scan(&failed, &archived, &last); err == nil {
		actual += fmt.Sprintf(", %d archived (last %s), %d failed", archived, last, failed)
		if failed > 0 && archived == 0 {
			return warn(want, actual, "the archiver fails: look at the server log for archive_command's error")
		}
	}
	return pass(want, actual)
}
