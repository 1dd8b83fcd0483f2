package cdc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// newForwardPair is a legacy source database (read by its binary log, as the lab's
// admin: REPLICATION SLAVE) and an openGauss target (the lab's admin: the catch-up
// after an online copy needs session_replication_role), fresh for one test.
func newForwardPair(t testing.TB) *pair {
	t.Helper()
	env := labtest.Ensure(t)
	name := labtest.DatabaseName("fwd", t)
	labtest.FreshDatabase(t, env, labtest.Legacy, name+"_s")
	labtest.FreshDatabase(t, env, labtest.Gauss, name+"_t")
	sd, _ := dbx.ParseDSN(env.LegacyAdminDSN)
	sd.Database = name + "_s"
	td, _ := dbx.ParseDSN(env.GaussAdminDSN)
	td.Database = name + "_t"
	ctx := context.Background()
	src, err := dbx.OpenDSN(ctx, sd, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := dbx.OpenDSN(ctx, td, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.Close()
		dst.Close()
	})
	return &pair{src: src, dst: dst, srcDSN: sd.URL(), dstDSN: td.URL()}
}

// mysqlTricky has a column of every type the forward mapping knows, at their edges.
const mysqlTricky = "CREATE TABLE tricky (" +
	"id BIGINT UNSIGNED NOT NULL PRIMARY KEY, ti TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, i INT UNSIGNED, bi BIGINT, " +
	"d DECIMAL(20,2), f FLOAT, db DOUBLE, c CHAR(3), vc VARCHAR(40), t TEXT, mt MEDIUMTEXT, bn BINARY(4), vb VARBINARY(10), bl BLOB, " +
	"dt DATETIME(6), ts TIMESTAMP(3) NULL, dd DATE, tm TIME(6), y YEAR, e ENUM('debit','credit','it''s'), st SET('a','b','c'), j JSON, " +
	"UNIQUE KEY tricky_vc (vc)) DEFAULT CHARSET=utf8mb4"

var forwardChanges = []string{
	"INSERT INTO tricky VALUES (18446744073709551615, 255, -32768, 16777215, 4294967295, -9223372036854775808, " +
		"999999999999999999.99, 1.5, 2.718281828459045, '支付', 'it''s \"q\" \\\\ back', 'line\\nnew 支付宝 😀', REPEAT('x', 70000), " +
		"X'00FF1000', X'', X'DEADBEEF', '2026-11-22 01:21:03.405740', '2026-11-22 01:21:03.405', '1999-12-31', '23:59:59.999999', 2026, " +
		"'it''s', 'a,c', '{\"a\": \"b''c\", \"n\": 1}')",
	"INSERT INTO tricky (id) VALUES (2)",
	"INSERT INTO tricky (id, vc, t, d) VALUES (3, '', 'null', -0.01), (4, 'four', '', 0), (5, 'five', NULL, 1)",
	"UPDATE tricky SET t = 'updated ''again''', d = 0.5 WHERE id = 4",
	"UPDATE tricky SET id = 6 WHERE id = 3",      // the key moves
	"UPDATE tricky SET vc = 'cinq' WHERE id = 5", // a unique column changes
	"DELETE FROM tricky WHERE id = 2",
	"START TRANSACTION",
	"INSERT INTO tricky (id, vc) VALUES (10, 'ten'), (11, 'eleven')",
	"UPDATE tricky SET e = 'credit' WHERE id IN (10, 11)",
	"DELETE FROM tricky WHERE id = 11",
	"COMMIT",
}

func startForward(t *testing.T, p *pair, slot string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan error, 1)}
	go func() {
		r.done <- cdc.Run(ctx, cdc.RunOptions{Source: p.src, Target: p.dst, Slot: slot, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	r.stop = func() error {
		cancel()
		select {
		case err := <-r.done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("forward run did not stop")
		}
	}
	return r
}

// The legacy binary log into openGauss: every mapped type at its edges, multi-row
// statements, a key that moves, a unique column that changes, a transaction of
// several statements; then the table is compared value by value.
func TestForwardEveryType(t *testing.T) {
	p := newForwardPair(t)
	ctx := context.Background()
	execSQL(t, p.src, mysqlTricky)
	slot := slotName(t)
	res, err := cdc.Init(ctx, cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, CreateTables: true})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	if !res.SlotMade || len(res.Created) != 1 || res.Plugin != cdc.ForwardPlugin {
		t.Errorf("init: %+v", res)
	}
	again, err := cdc.Init(ctx, cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot})
	if err != nil || again.SlotMade || again.Checkpoint != res.Checkpoint {
		t.Errorf("init twice must change nothing: %+v %v", again, err)
	}
	r := startForward(t, p, slot)
	// The server moves to a new binary-log file mid-stream: the reader follows.
	execSQL(t, p.src, forwardChanges[:4]...)
	execSQL(t, p.src, "FLUSH BINARY LOGS")
	execSQL(t, p.src, forwardChanges[4:]...)
	waitCaughtUp(t, p, slot, r)
	// MariaDB writes a Binlog_checkpoint event into the new file on its own, after the
	// rotation: the reader passes it at its next round (40 bytes of lag until then).
	var st cdc.Status
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, err = cdc.GetStatus(ctx, p.src, p.dst, slot); err != nil {
			t.Fatal(err)
		}
		if st.LagBytes == 0 || time.Now().After(deadline) {
			break
		}
	}
	if !st.Active || st.LagBytes != 0 || !strings.HasPrefix(st.AppliedLSN, "binlog.") {
		t.Errorf("status while running and caught up: %+v", st)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("forward run: %v", err)
	}
	// Stopped, then two rotations and writes on both sides of them: a new run starts
	// from the checkpoint in an older file and reads across.
	execSQL(t, p.src, "INSERT INTO tricky (id, vc) VALUES (20, 'twenty')", "FLUSH BINARY LOGS", "INSERT INTO tricky (id, vc) VALUES (21, 'twenty-one')", "FLUSH BINARY LOGS")
	r = startForward(t, p, slot)
	waitCaughtUp(t, p, slot, r)
	if err := r.stop(); err != nil {
		t.Fatalf("forward run across rotations: %v", err)
	}
	if got, err := p.dst.Strings(ctx, "SELECT vc FROM tricky WHERE id IN (20, 21) ORDER BY id"); err != nil || strings.Join(got, ",") != "twenty,twenty-one" {
		t.Errorf("rows written across rotations: %v %v", got, err)
	}
	checkTricky(t, p.dst)
	keys, err := p.dst.Strings(ctx, "SELECT id::text || ':' || COALESCE(vc, '-') || ':' || COALESCE(t, '-') || ':' || COALESCE(e, '-') FROM tricky WHERE id < 100 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, " "); got != "4:four:updated 'again':- 5:cinq:-:- 6::null:- 10:ten:-:credit 20:twenty:-:- 21:twenty-one:-:-" {
		t.Errorf("rows on openGauss: %s", got)
	}
}

// DDL on a replicated table stops the run loudly, naming the statement; DDL on a
// table that is not replicated passes.
func TestForwardDDLStops(t *testing.T) {
	p := newForwardPair(t)
	ctx := context.Background()
	execSQL(t, p.src, "CREATE TABLE acct (id BIGINT PRIMARY KEY, v VARCHAR(10))")
	execSQL(t, p.dst, "CREATE TABLE acct (id BIGINT PRIMARY KEY, v VARCHAR(10))")
	slot := slotName(t)
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot}); err != nil {
		t.Fatal(err)
	}
	r := startForward(t, p, slot)
	execSQL(t, p.src, "INSERT INTO acct VALUES (1, 'a')", "CREATE TABLE xckit_scratch (id INT PRIMARY KEY)", "DROP TABLE xckit_scratch",
		"INSERT INTO acct VALUES (2, 'b')")
	waitCaughtUp(t, p, slot, r)
	execSQL(t, p.src, "ALTER TABLE acct ADD COLUMN w INT", "INSERT INTO acct VALUES (3, 'c', 1)")
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "DDL on replicated table acct") || !strings.Contains(err.Error(), "ADD COLUMN w") {
			t.Fatalf("run after DDL: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.stop()
		t.Fatal("the run did not stop at the DDL")
	}
	got, err := p.dst.Strings(ctx, "SELECT id::text FROM acct ORDER BY id")
	if err != nil || strings.Join(got, ",") != "1,2" {
		t.Errorf("rows applied before the DDL: %v %v", got, err)
	}
}

// checkTricky compares the edge row of the tricky table on openGauss with what was
// written on the legacy side, column by column.
func checkTricky(t *testing.T, dst *dbx.DB) {
	t.Helper()
	want := map[string]string{
		"id": "18446744073709551615", "ti": "255", "si": "-32768", "mi": "16777215", "i": "4294967295", "bi": "-9223372036854775808",
		"d": "999999999999999999.99", "f": "1.5", "db": "2.718281828459045", "c": "支付", "vc": `it's "q" \ back`,
		"t": "line\nnew 支付宝 😀", "bn": `\x00ff1000`, "vb": `\x`, "bl": `\xdeadbeef`, "dt": "2026-11-22 01:21:03.40574",
		"ts": "2026-11-22 01:21:03.405", "dd": "1999-12-31", "tm": "23:59:59.999999", "y": "2026", "e": "it's", "st": "a,c",
		"j": `{"a": "b'c", "n": 1}`,
	}
	for col, v := range want {
		var got string
		q := "SELECT " + col + "::text FROM tricky WHERE id = 18446744073709551615"
		if err := dst.QueryRow(q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != v {
			t.Errorf("column %s on openGauss: %q, want %q", col, got, v)
		}
	}
	var n int
	if err := dst.QueryRow("SELECT length(mt) FROM tricky WHERE id = 18446744073709551615").Scan(&n); err != nil || n != 70000 {
		t.Errorf("mediumtext length %d %v", n, err)
	}
}
