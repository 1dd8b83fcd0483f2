package cdc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/lab"
)

// A real failover under the reverse CDC: a lab gauss with a streaming standby (its
// own lab, ports 18732..), cdc run following through the cluster DSN. The primary
// stops and the standby is promoted: PostgreSQL 15 keeps the logical slot on the old
// primary only, so the run, reconnecting to the new primary, must stop with a
// GapError naming the window, never re-create the slot or skip; cdc init refuses
// without --after-failover; with it, and the repair, legacy is equal again (checked
// by plain queries, not by the kit's verify).
func TestFailoverStopsTheStreamAndTheRepairClosesTheGap(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: its own primary, standby and MariaDB")
	}
	o, env := labtest.Own(t, "xckit-cdc-failover-", lab.Options{GaussPort: 18732, LegacyPort: 18706, LBPort: 18700, GaussStandbys: 1, Parts: []string{"gauss", "gauss-standby1", "legacy"}})
	ctx := context.Background()
	sd, _ := dbx.ParseDSN(env.GaussAdminDSN) // the cluster DSN: both nodes, read-write
	sd.Database = "payd"
	src, err := dbx.OpenDSN(ctx, sd, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	td, _ := dbx.ParseDSN(env.LegacyAdminDSN)
	td.Database = "payd"
	dst, err := dbx.OpenDSN(ctx, td, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	execSQL(t, src, "CREATE TABLE fo_items (id int PRIMARY KEY, v text NOT NULL)")
	execSQL(t, dst, "CREATE TABLE fo_items (id int PRIMARY KEY, v text NOT NULL)")
	const slot = "xckit_cdc"
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: dst, Slot: slot, Tables: []string{"fo_items"}}); err != nil {
		t.Fatal(err)
	}
	insert := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			// A pooled connection to the old primary fails once after the failover,
			// as an application's would: retry, as it does.
			for try := 0; ; try++ {
				_, err := src.ExecContext(ctx, "INSERT INTO fo_items VALUES ($1, $2)", i, fmt.Sprint("v", i))
				if err == nil {
					break
				}
				if try == 20 || !(dbx.IsTransient(err) || strings.Contains(err.Error(), "EOF")) {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	run := func() (context.CancelFunc, chan error) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- cdc.Run(rctx, cdc.RunOptions{Source: src, Target: dst, Slot: slot, Tables: []string{"fo_items"}})
		}()
		return cancel, done
	}
	waitApplied := func() {
		t.Helper()
		lsn, err := cdc.CurrentLSN(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if err := cdc.WaitApplied(ctx, dst, slot, lsn, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	insert(0, 100)
	cancel, done := run()
	waitApplied()
	before, _, _ := cdc.NewSink(dst, slot).Checkpoint(ctx)

	// The failover, with the run following: the primary stops, writes go nowhere for a
	// moment, the standby is promoted and the cluster DSN reaches it.
	if err := lab.Down(ctx, lab.Options{Dir: o.Dir, Parts: []string{"gauss"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := lab.Promote(ctx, o, 1); err != nil {
		t.Fatal(err)
	}
	insert(100, 150) // on the new primary: no slot there yet
	var gap *cdc.GapError
	select {
	case err := <-done:
		if !errors.As(err, &gap) || !gap.Missing || gap.Node != "127.0.0.1:18734" {
			t.Fatalf("cdc run after the failover: want a GapError (slot missing on 127.0.0.1:18734), got %v", err)
		}
		for _, want := range []string{"missing on 127.0.0.1:18734", "up to " + gap.Applied.String(), "cdc init --after-failover", "verify --repair --yes --since"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the stop should say %q:\n%v", want, err)
			}
		}
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("cdc run did not stop after the failover")
	}
	cancel()
	if gap.Applied < before.LSN {
		t.Errorf("the gap starts at %s, before the checkpoint %s", gap.Applied, before.LSN)
	}
	// Nothing was reported applied that legacy lacks, and nothing after the window.
	if n := count(t, dst); n != 100 {
		t.Errorf("legacy holds %d rows after the stop, want the 100 applied before the failover", n)
	}
	if _, err := cdc.GetStatus(ctx, src, dst, slot); !errors.As(err, &gap) {
		t.Errorf("cdc status with the slot gone should name the gap: %v", err)
	}
	// Starting again stops again: the gap is never skipped.
	if err := cdc.Run(ctx, cdc.RunOptions{Source: src, Target: dst, Slot: slot}); !errors.As(err, &gap) {
		t.Errorf("cdc run again, slot still missing: %v", err)
	}
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: dst, Slot: slot, Tables: []string{"fo_items"}}); err == nil || !strings.Contains(err.Error(), "cdc init refused") {
		t.Fatalf("cdc init without --after-failover must refuse: %v", err)
	}
	res, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: dst, Slot: slot, Tables: []string{"fo_items"}, AfterFailover: true})
	if err != nil || res.Gap == nil || res.Gap.From != gap.Applied.String() || !res.SlotMade {
		t.Fatalf("cdc init --after-failover: %+v %v", res, err)
	}
	insert(150, 170) // after the new slot: the stream carries these
	rep, err := cdc.Verify(ctx, cdc.VerifyOptions{Source: src, Target: dst, Tables: []string{"fo_items"}, Repair: true, Since: res.Gap.RepairSince})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cdc.RepairAndVerify(ctx, cdc.VerifyOptions{Source: src, Target: dst, Tables: []string{"fo_items"}}, rep); err != nil {
		t.Fatal(err)
	}
	cancel, done = run()
	insert(170, 180)
	waitApplied()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Independent comparison: the same ids and values on both sides.
	if s, d := rowsOf(t, src), rowsOf(t, dst); s != d || count(t, dst) != 180 {
		t.Errorf("after the repair legacy differs from the new primary:\nsource %.200s\nlegacy %.200s", s, d)
	}
}

func count(t *testing.T, db *dbx.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM fo_items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func rowsOf(t *testing.T, db *dbx.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT id, v FROM fo_items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id int
		var v string
		rows.Scan(&id, &v)
		fmt.Fprintf(&b, "%d=%s;", id, v)
	}
	return b.String()
}

// A slot that disappears (a failover) is a GapError wherever the reader meets it: at
// its read, and at the advance after a batch was applied (the failover lands between
// the apply and the advance; the run used to stop with the bare 42704 there).
func TestSlotGoneIsAGapAtReadAndAtAdvance(t *testing.T) {
	p := newPair(t, "legacy")
	ctx := context.Background()
	dec, _ := cdc.DecoderFor(labPlugin)
	for _, at := range []string{"read", "advance"} {
		t.Run(at, func(t *testing.T) {
			slot := slotName(t)
			if _, err := p.src.ExecContext(ctx, "SELECT * FROM pg_create_logical_replication_slot($1, $2)", slot, labPlugin); err != nil {
				t.Fatal(err)
			}
			lsn, err := cdc.CurrentLSN(ctx, p.src)
			if err != nil {
				t.Fatal(err)
			}
			r := cdc.NewSQLReader(p.src, slot, dec, 10)
			r.Applied = func(context.Context) (cdc.Checkpoint, error) { return cdc.Checkpoint{LSN: lsn}, nil }
			if _, err := r.Next(ctx); err != nil { // guarded: the slot is there
				t.Fatal(err)
			}
			if _, err := p.src.ExecContext(ctx, "SELECT pg_drop_replication_slot($1)", slot); err != nil {
				t.Fatal(err)
			}
			if at == "read" {
				_, err = r.Next(ctx)
			} else {
				err = r.Confirm(ctx, lsn)
			}
			var gap *cdc.GapError
			if !errors.As(err, &gap) || !gap.Missing || gap.Applied != lsn {
				t.Fatalf("slot gone at the %s: want a GapError from %s, got %v", at, lsn, err)
			}
		})
	}
}

// The promotion point, from the slot's own stream: a slot that confirms a position
// before legacy's checkpoint must, read from there, hold legacy's last applied
// transaction at its commit position. A node promoted before it had that transaction
// (openGauss keeps one timeline across a failover: the same positions then name
// other transactions) is a GapError, Diverged.
func TestGuardChecksTheAppliedTransactionIsInTheNodesHistory(t *testing.T) {
	p := newPair(t, "legacy")
	ctx := context.Background()
	dec, _ := cdc.DecoderFor(labPlugin)
	execSQL(t, p.src, "CREATE TABLE hist (id int PRIMARY KEY)")
	slot := slotName(t)
	if _, err := p.src.ExecContext(ctx, "SELECT * FROM pg_create_logical_replication_slot($1, $2)", slot, labPlugin); err != nil {
		t.Fatal(err)
	}
	execSQL(t, p.src, "INSERT INTO hist VALUES (1)", "INSERT INTO hist VALUES (2)")
	txns, err := cdc.NewSQLReader(p.src, slot, dec, 100).Next(ctx)
	if err != nil || len(txns) != 2 {
		t.Fatalf("read the two transactions: %v %v", txns, err)
	}
	last := txns[1]
	end, _ := cdc.CurrentLSN(ctx, p.src)
	cases := []struct {
		name     string
		cp       cdc.Checkpoint
		diverged bool
	}{
		{"the last applied transaction is there", cdc.Checkpoint{LSN: last.CommitLSN, SourceTxn: last.XID}, false},
		{"an older checkpoint, also there", cdc.Checkpoint{LSN: txns[0].CommitLSN, SourceTxn: txns[0].XID}, false},
		{"another transaction at that position", cdc.Checkpoint{LSN: last.CommitLSN, SourceTxn: "4000000001"}, true},
		{"no commit at that position", cdc.Checkpoint{LSN: last.CommitLSN - 1, SourceTxn: last.XID}, true},
		{"the node never reached it", cdc.Checkpoint{LSN: end + 1<<20, SourceTxn: last.XID}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cdc.NewSQLReader(p.src, slot, dec, 100)
			r.Applied = func(context.Context) (cdc.Checkpoint, error) { return tc.cp, nil }
			_, err := r.Next(ctx)
			var gap *cdc.GapError
			switch {
			case !tc.diverged && err != nil:
				t.Fatalf("the node holds legacy's last transaction, yet: %v", err)
			case tc.diverged && (!errors.As(err, &gap) || !gap.Diverged || !strings.Contains(err.Error(), "history does not hold")):
				t.Fatalf("want a Diverged GapError, got %v", err)
			}
		})
	}
}
