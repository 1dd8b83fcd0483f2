package cdc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// pair is a source database on gauss and a target on legacy (or a second gauss
// database), fresh for one test.
type pair struct {
	src, dst *dbx.DB
	srcDSN   string
	dstDSN   string
}

// labPlugin is the lab's gauss's decoding plugin: openGauss's mppdb_decoding (the
// lab builds its PostgreSQL twin, lab/plugin).
const labPlugin = "mppdb_decoding"

// postgresSource: the source is the PostgreSQL behind the lab's front, reached through
// its socket, where PostgreSQL's own plugins load (test_decoding, wal2json).
const postgresSource = "postgres"

func newPair(t testing.TB, target string) *pair {
	t.Helper()
	return newPairFrom(t, labtest.Gauss, target)
}

func newPairFrom(t testing.TB, source, target string) *pair {
	t.Helper()
	env := labtest.Ensure(t)
	name := labtest.DatabaseName("cdc", t)
	labtest.FreshDatabase(t, env, labtest.Gauss, name+"_s")
	dstDSN := labtest.FreshDatabase(t, env, target, name+"_t")
	// The source connection needs the right to use replication slots: the lab's admin.
	sd, _ := dbx.ParseDSN(env.GaussAdminDSN)
	if source == postgresSource {
		sd, _ = dbx.ParseDSN(env.GaussPostgresDSN)
		sd.Params.Set("options", "-c dynamic_library_path=$libdir")
	}
	sd.Database = name + "_s"
	ctx := context.Background()
	src, err := dbx.OpenDSN(ctx, sd, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := dbx.Open(ctx, dstDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{src: src, dst: dst, srcDSN: sd.URL(), dstDSN: dstDSN}
	t.Cleanup(func() {
		cdc.Drop(context.Background(), src, nil, slotName(t))
		src.Close()
		dst.Close()
	})
	return p
}

func slotName(t testing.TB) string {
	return strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace("xct_" + t.Name()))
}

func execSQL(t *testing.T, db *dbx.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

const pgTypes = `CREATE TABLE types_rt (
	id BIGINT PRIMARY KEY, i INTEGER, n NUMERIC(30,6), t TEXT, vc VARCHAR(40), b BOOLEAN,
	d DATE, ts TIMESTAMP(6), tstz TIMESTAMPTZ, by BYTEA, j JSON)`

var targetTypes = map[string]string{
	labtest.Legacy: "CREATE TABLE types_rt (id BIGINT PRIMARY KEY, i INT, n DECIMAL(30,6), t TEXT, vc VARCHAR(40), b TINYINT(1), " +
		"d DATE, ts DATETIME(6), tstz DATETIME(6), `by` BLOB, j LONGTEXT) DEFAULT CHARSET=utf8mb4",
	labtest.Gauss: pgTypes,
}

// changes writes every type, NULLs, quotes, backslashes, newlines and Chinese text,
// then updates (one moving the key) and deletes.
var changes = []string{
	`INSERT INTO types_rt VALUES (1, 42, 12345678901234567890.123456, 'it''s "q" \ back\slash
new line 支付宝 微信支付', 'short', true, '2026-11-22', '2026-11-22 01:21:03.405740', '2026-11-22 09:21:03.405740+08', '\x00ff10'::bytea, '{"a": "b''c", "n": 1}')`,
	`INSERT INTO types_rt VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO types_rt VALUES (3, -7, -0.000001, 'null', '', false, '1999-12-31', '1999-12-31 23:59:59.999999', '1999-12-31 23:59:59.999999+00', '\x'::bytea, 'null')`,
	`INSERT INTO types_rt SELECT g, g, g * 1.5, 'row ' || g, 'v' || g, g % 2 = 0, DATE '2026-01-01' + g, TIMESTAMP '2026-01-01' + g * INTERVAL '1 second', now(), NULL, NULL FROM generate_series(10, 500) g`,
	`UPDATE types_rt SET t = 'updated ''again''', n = 0.5 WHERE id = 1`,
	`UPDATE types_rt SET id = 4 WHERE id = 3`,
	`DELETE FROM types_rt WHERE id BETWEEN 100 AND 199`,
	`UPDATE types_rt SET vc = NULL, b = NULL WHERE id BETWEEN 200 AND 210`,
}

// running is a pipeline started by startPipeline.
type running struct {
	done chan error
	stop func() error
}

// waitCaughtUp waits until everything committed on the source so far is applied.
func waitCaughtUp(t *testing.T, p *pair, slot string, r *running) {
	t.Helper()
	lsn, err := cdc.SourcePosition(context.Background(), p.src) // either direction
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cdc.WaitApplied(context.Background(), p.dst, slot, lsn, 30*time.Second) }()
	select {
	case err := <-r.done:
		t.Fatalf("the pipeline stopped: %v", err)
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	}
}

func startPipeline(t *testing.T, p *pair, slot, plugin string) *running {
	t.Helper()
	return startPipelineWith(t, p, slot, plugin, cdc.ReaderSQL)
}

// startPipelineWith runs a pipeline whose reader is sql (peek and advance) or stream.
func startPipelineWith(t *testing.T, p *pair, slot, plugin, reader string) *running {
	t.Helper()
	dec, err := cdc.DecoderFor(plugin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var src cdc.Source = cdc.NewSQLReader(p.src, slot, dec, 1000)
	if reader == cdc.ReaderStream {
		sr := cdc.NewStreamReader(p.src, slot, dec, 1000)
		t.Cleanup(sr.Close)
		src = sr
	}
	pl := &cdc.Pipeline{Reader: src, Sink: cdc.NewSink(p.dst, slot),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := &running{done: make(chan error, 1)}
	go func() { r.done <- pl.Run(ctx) }()
	r.stop = func() error {
		cancel()
		select {
		case err := <-r.done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("pipeline did not stop")
		}
	}
	return r
}

// Every type, both ways: openGauss's mppdb_decoding from the lab's gauss (its
// openGauss front, its plugin), and PostgreSQL's own plugins from the PostgreSQL
// behind it (xckit's PostgreSQL support).
func TestRoundTripEveryType(t *testing.T) {
	for _, c := range []struct{ plugin, source, target, reader string }{
		{labPlugin, labtest.Gauss, labtest.Legacy, cdc.ReaderSQL},
		{labPlugin, labtest.Gauss, labtest.Gauss, cdc.ReaderSQL},
		{"test_decoding", postgresSource, labtest.Legacy, cdc.ReaderSQL},
		{"wal2json", postgresSource, labtest.Legacy, cdc.ReaderSQL},
		// The streaming protocol: through the lab's openGauss front (its keepalive and
		// status update as openGauss lays them out), and from PostgreSQL itself.
		{labPlugin, labtest.Gauss, labtest.Legacy, cdc.ReaderStream},
		{"test_decoding", postgresSource, labtest.Legacy, cdc.ReaderStream},
	} {
		t.Run(c.plugin+"_to_"+c.target+"_"+c.reader, func(t *testing.T) {
			p := newPairFrom(t, c.source, c.target)
			execSQL(t, p.src, pgTypes)
			execSQL(t, p.dst, targetTypes[c.target])
			slot := slotName(t)
			res, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: c.plugin})
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			if !res.SlotMade || len(res.Tables) != 1 {
				t.Errorf("init: %+v", res)
			}
			again, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: c.plugin})
			if err != nil || again.SlotMade || again.Checkpoint != res.Checkpoint {
				t.Errorf("init twice must change nothing: %+v %v", again, err)
			}
			r := startPipelineWith(t, p, slot, c.plugin, c.reader)
			execSQL(t, p.src, changes...)
			// Status runs beside the pipeline without taking the slot from it.
			for range 5 {
				if _, err := cdc.GetStatus(context.Background(), p.src, p.dst, slot); err != nil {
					t.Fatalf("status during run: %v", err)
				}
			}
			waitCaughtUp(t, p, slot, r)
			// The slot follows the checkpoint: the stream's status update (openGauss's
			// layout through the front) moved it as the advance does. It may pass the
			// last applied commit only up to the caught-up position the target records
			// (WAL that other databases of the lab wrote meanwhile), never beyond.
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, err := cdc.GetStatus(context.Background(), p.src, p.dst, slot)
				if err != nil {
					t.Fatal(err)
				}
				conf, _ := cdc.ParseLSN(st.ConfirmedLSN)
				applied, _ := cdc.ParseLSN(st.AppliedLSN)
				caught, _ := cdc.ParseLSN(st.CaughtUpLSN)
				if conf > max(applied, caught) {
					t.Fatalf("the slot is at %s, past what the target records (applied %s, caught up %s)", st.ConfirmedLSN, st.AppliedLSN, st.CaughtUpLSN)
				}
				if conf >= applied {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the slot stays at %s, the checkpoint is at %s", st.ConfirmedLSN, st.AppliedLSN)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := r.stop(); err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Equal() || rep.Tables[0].SourceRows != 3+491-100 {
				t.Errorf("verify after CDC: %+v", rep.Tables)
			}
			var txt, n string
			if err := p.dst.QueryRow("SELECT t, n FROM types_rt WHERE id = 1").Scan(&txt, &n); err != nil {
				t.Fatal(err)
			}
			if txt != "updated 'again'" || !strings.HasPrefix(n, "0.5") {
				t.Errorf("row 1 on the target: %q %q", txt, n)
			}
		})
	}
}

// On either target (statements sent together: multi-statement on MariaDB, a pipeline
// on gauss), a change the target refuses stops the run naming it, nothing of its batch
// stays, and the run resumes from it once the target is fixed.
func TestUnapplicableChangeStopsAndResumes(t *testing.T) {
	for _, target := range []string{labtest.Legacy, labtest.Gauss} {
		t.Run(target, func(t *testing.T) { unapplicableChange(t, target) })
	}
}

func unapplicableChange(t *testing.T, target string) {
	p := newPair(t, target)
	execSQL(t, p.src, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))")
	execSQL(t, p.dst, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(5))")
	slot := slotName(t)
	if _, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	// One source transaction of three rows: the sink sends them as one multi-row
	// statement, and on failure finds the row to blame.
	execSQL(t, p.src, "INSERT INTO notes VALUES (1, 'ok')", "INSERT INTO notes VALUES (2, 'far too long for the legacy column'), (3, 'ok'), (4, 'ok')")
	dec, _ := cdc.DecoderFor(labPlugin)
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(p.src, slot, dec, 1), Sink: cdc.NewSink(p.dst, slot), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := pl.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "notes") || !strings.Contains(err.Error(), "id=2") || !strings.Contains(err.Error(), "body") {
		t.Fatalf("want an error naming table notes, key id=2 and column body; got %v", err)
	}
	cp, _, _ := cdc.NewSink(p.dst, slot).Checkpoint(context.Background())
	info, _, _ := cdc.SlotInfo(context.Background(), p.src, slot)
	conf, _ := cdc.ParseLSN(info.Confirmed)
	if conf > cp.LSN {
		t.Errorf("slot confirmed %s passed the checkpoint %s", conf, cp.LSN)
	}
	var n int
	p.dst.QueryRow("SELECT count(*) FROM notes").Scan(&n)
	if n != 1 {
		t.Errorf("target holds %d rows; only the row before the failure may be there", n)
	}
	// Fix the column; the same run resumes from the failed change.
	if target == labtest.Legacy {
		execSQL(t, p.dst, "ALTER TABLE notes MODIFY body VARCHAR(100)")
	} else {
		execSQL(t, p.dst, "ALTER TABLE notes ALTER COLUMN body TYPE VARCHAR(100)")
	}
	r := startPipeline(t, p, slot, labPlugin)
	waitCaughtUp(t, p, slot, r)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil || !rep.Equal() {
		t.Errorf("after the fix: %+v %v", rep, err)
	}
}

func TestVerifyFindsDifferences(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.src, "CREATE TABLE acct (id BIGINT PRIMARY KEY, amount NUMERIC(20,2), owner VARCHAR(20))")
	execSQL(t, p.dst, "CREATE TABLE acct (id BIGINT PRIMARY KEY, amount DECIMAL(20,2), owner VARCHAR(20))")
	for i := 1; i <= 50; i++ {
		execSQL(t, p.src, fmt.Sprintf("INSERT INTO acct VALUES (%d, %d.50, 'o%d')", i, i, i))
		if i != 7 {
			execSQL(t, p.dst, fmt.Sprintf("INSERT INTO acct VALUES (%d, %d.50, 'o%d')", i, i, i))
		}
	}
	execSQL(t, p.dst, "INSERT INTO acct VALUES (99, 1.00, 'ghost')", "UPDATE acct SET amount = 13.51 WHERE id = 13")
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tables[0]
	if tr.Missing != 1 || tr.Extra != 1 || tr.Different != 1 || rep.Equal() {
		t.Fatalf("verify: %+v", tr)
	}
	// The timings say where a slow verify went: both scans' first rows came within
	// the table's time (they start together, neither waits for the other's sort).
	if tr.Seconds <= 0 || tr.SourceFirst <= 0 || tr.TargetFirst <= 0 || tr.SourceFirst > tr.Seconds || tr.TargetFirst > tr.Seconds {
		t.Errorf("timings: %.3fs, first rows %.3fs / %.3fs", tr.Seconds, tr.SourceFirst, tr.TargetFirst)
	}
	want := map[string]string{"missing": "id=7", "extra": "id=99", "different": "id=13"}
	for _, d := range tr.Diffs {
		if want[d.Kind] != d.Key {
			t.Errorf("diff %+v", d)
		}
		if d.Kind == "different" && (len(d.Columns) != 1 || d.Columns[0] != "amount") {
			t.Errorf("different columns: %v", d.Columns)
		}
	}
}

func TestCopyBothWaysAndSequences(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	// legacy -> gauss, as at cutover: the legacy side has data and an AUTO_INCREMENT key.
	execSQL(t, p.dst, "CREATE TABLE flows (id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50), amt DECIMAL(20,2), at DATETIME(6))")
	execSQL(t, p.src, "CREATE TABLE flows (id BIGSERIAL PRIMARY KEY, note VARCHAR(50), amt NUMERIC(20,2), at TIMESTAMP(6))")
	for i := 1; i <= 1200; i++ {
		execSQL(t, p.dst, fmt.Sprintf("INSERT INTO flows (note, amt, at) VALUES ('n%d 支付', %d.25, '2026-11-22 01:02:03.000004')", i, i))
	}
	rep, err := cdc.Copy(context.Background(), cdc.CopyOptions{From: p.dst, To: p.src, Chunk: 500})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 1200 || len(rep.Tables[0].Sequences) != 1 {
		t.Errorf("copy: %+v", rep)
	}
	// Run again: idempotent.
	if _, err := cdc.Copy(context.Background(), cdc.CopyOptions{From: p.dst, To: p.src}); err != nil {
		t.Fatalf("second copy: %v", err)
	}
	v, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil || !v.Equal() {
		t.Fatalf("verify after copy: %+v %v", v, err)
	}
	// The sequence moved past the copied keys: the first new row cannot collide.
	var id int64
	if err := p.src.QueryRow("INSERT INTO flows (note) VALUES ('new') RETURNING id").Scan(&id); err != nil || id != 1201 {
		t.Errorf("first new row got id %d (%v), want 1201", id, err)
	}
	// gauss -> legacy: the target's AUTO_INCREMENT moves too.
	execSQL(t, p.dst, "DELETE FROM flows")
	if _, err := cdc.Copy(context.Background(), cdc.CopyOptions{From: p.src, To: p.dst}); err != nil {
		t.Fatal(err)
	}
	res, err := p.dst.Exec("INSERT INTO flows (note) VALUES ('legacy new')")
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := res.LastInsertId(); last != 1202 {
		t.Errorf("legacy AUTO_INCREMENT after copy gave %d, want 1202", last)
	}
}

func TestRepairMakesTargetEqual(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.src, "CREATE TABLE acct (id BIGINT PRIMARY KEY, amount NUMERIC(20,2), owner VARCHAR(20), at TIMESTAMP(6))")
	execSQL(t, p.dst, "CREATE TABLE acct (id BIGINT PRIMARY KEY, amount DECIMAL(20,2), owner VARCHAR(20), at DATETIME(6))")
	for i := 1; i <= 30; i++ {
		execSQL(t, p.src, fmt.Sprintf("INSERT INTO acct VALUES (%d, %d.10, '户%d', '2026-11-22 01:02:03.5')", i, i, i))
		if i%10 != 0 {
			execSQL(t, p.dst, fmt.Sprintf("INSERT INTO acct VALUES (%d, %d.10, '户%d', '2026-11-22 01:02:03.5')", i, i, i))
		}
	}
	execSQL(t, p.dst, "INSERT INTO acct VALUES (77, 7, 'ghost', NULL)", "UPDATE acct SET owner = 'changed' WHERE id = 5")
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tables[0]
	if tr.Missing != 3 || tr.Extra != 1 || tr.Different != 1 || tr.Upserts != 4 || tr.Deletes != 1 {
		t.Fatalf("before repair: %+v", tr)
	}
	// --since: only rows changed since a time are compared: the source moved 11 and 21
	// into the window, the target only 21.
	execSQL(t, p.src, "UPDATE acct SET at = '2030-01-01 00:00:00' WHERE id IN (11, 21)")
	execSQL(t, p.dst, "UPDATE acct SET at = '2030-01-01 00:00:00' WHERE id = 21")
	recent, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst, Since: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), SinceColumns: []string{"at"}})
	if err != nil || recent.Tables[0].SourceRows != 2 || recent.Tables[0].Missing != 1 || recent.Tables[0].Different != 0 {
		t.Errorf("verify --since: %+v %v", recent.Tables, err)
	}
	rep, err = cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := cdc.ApplyRepair(context.Background(), p.dst, rep); err != nil {
		t.Fatal(err)
	}
	after, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil || !after.Equal() {
		t.Errorf("after repair: %+v %v", after.Tables, err)
	}
}

func TestCreateTablesAndGBK(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.src, "CREATE TABLE made (id BIGINT PRIMARY KEY, amt NUMERIC(20,2) NOT NULL, name VARCHAR(30), note TEXT, ok BOOLEAN, at TIMESTAMPTZ, raw BYTEA)")
	slot := slotName(t)
	res, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin, CreateTables: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 1 || res.Created[0] != "made" {
		t.Errorf("created: %+v", res)
	}
	var ddl string
	var name string
	if err := p.dst.QueryRow("SHOW CREATE TABLE made").Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`amt` decimal(20,2) NOT NULL", "`name` varchar(30)", "`ok` tinyint(1)", "`at` datetime(6)", "`raw` longblob", "PRIMARY KEY (`id`)"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("created table lacks %q:\n%s", want, ddl)
		}
	}
	// A gbk legacy column: a character gbk cannot hold stops the run and names the row.
	execSQL(t, p.dst, "ALTER TABLE made MODIFY name VARCHAR(30) CHARACTER SET gbk")
	execSQL(t, p.src, "INSERT INTO made VALUES (1, 1.5, '中文没问题', 'x', true, now(), NULL)", "INSERT INTO made VALUES (2, 2.5, 'emoji 😀', 'y', false, now(), NULL)")
	dec, _ := cdc.DecoderFor(labPlugin)
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(p.src, slot, dec, 1000), Sink: cdc.NewSink(p.dst, slot), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = pl.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "id=2") || !strings.Contains(err.Error(), "name") {
		t.Fatalf("want a stop naming row id=2 and column name, got %v", err)
	}
	var n int
	p.dst.QueryRow("SELECT count(*) FROM made").Scan(&n)
	if n != 0 {
		t.Errorf("legacy holds %d rows: the failed batch (both source transactions) must be rolled back whole", n)
	}
}

// A TRUNCATE on the source stops cdc run loudly (it is not replicated), after the rows
// before it were applied, and nothing after it is confirmed.
func TestTruncateStopsTheRun(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.src, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))")
	execSQL(t, p.dst, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))")
	slot := slotName(t)
	if _, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, p.src, "INSERT INTO notes VALUES (1, 'before')", "TRUNCATE notes", "INSERT INTO notes VALUES (2, 'after')")
	dec, _ := cdc.DecoderFor(labPlugin)
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(p.src, slot, dec, 1), Sink: cdc.NewSink(p.dst, slot), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := pl.Run(ctx)
	if !errors.Is(err, cdc.ErrNotReplicated) || !strings.Contains(err.Error(), "TRUNCATE of public.notes") {
		t.Fatalf("want the run to stop at the TRUNCATE, naming it; got %v", err)
	}
	var n int
	p.dst.QueryRow("SELECT count(*) FROM notes WHERE id = 2").Scan(&n)
	if n != 0 {
		t.Error("a change after the TRUNCATE was applied")
	}
}

// A copy into openGauss never sets a unique column in its upsert (openGauss refuses
// that, and the lab's gauss does too): copying twice over a table with one works.
func TestCopyIntoOpenGaussKeepsUniqueColumns(t *testing.T) {
	p := newPair(t, labtest.Legacy)
	execSQL(t, p.dst, "CREATE TABLE codes (id BIGINT PRIMARY KEY, code VARCHAR(20) UNIQUE, v INT)")
	execSQL(t, p.src, "CREATE TABLE codes (id BIGINT PRIMARY KEY, code VARCHAR(20) UNIQUE, v INT)")
	for i := 1; i <= 20; i++ {
		execSQL(t, p.dst, fmt.Sprintf("INSERT INTO codes VALUES (%d, 'c%d', %d)", i, i, i))
	}
	for round := 1; round <= 2; round++ {
		if _, err := cdc.Copy(context.Background(), cdc.CopyOptions{From: p.dst, To: p.src}); err != nil {
			t.Fatalf("copy %d: %v", round, err)
		}
		execSQL(t, p.dst, "UPDATE codes SET v = v + 1")
	}
	v, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.dst, Target: p.src})
	if err == nil && !v.Equal() {
		// the second round updated v after the copy: copy once more and compare
		if _, err = cdc.Copy(context.Background(), cdc.CopyOptions{From: p.dst, To: p.src}); err == nil {
			v, err = cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.dst, Target: p.src})
		}
	}
	if err != nil || !v.Equal() {
		t.Fatalf("after the copies: %+v %v", v, err)
	}
}
