package cdc_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// The online copy carries every mapped type through COPY as the forward CDC does.
func TestOnlineCopyEveryType(t *testing.T) {
	p := newForwardPair(t)
	ctx := context.Background()
	execSQL(t, p.src, mysqlTricky)
	execSQL(t, p.src, forwardChanges...)
	ddl, err := cdc.GaussTableDDL(ctx, p.src, p.dst.Dialect, "tricky")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, p.dst, ddl)
	slot := slotName(t)
	rep, err := cdc.OnlineCopy(ctx, cdc.OnlineCopyOptions{From: p.src, To: p.dst, Slot: slot})
	if err != nil {
		t.Fatalf("online copy: %v", err)
	}
	if rep.Rows != 5 || rep.Resumed || !strings.HasPrefix(rep.CatchUpPos, "binlog.") {
		t.Errorf("report: %+v", rep)
	}
	checkTricky(t, p.dst)
	// A second copy onto tables that now have rows is refused, naming the table.
	if _, err := cdc.OnlineCopy(ctx, cdc.OnlineCopyOptions{From: p.src, To: p.dst, Slot: slot}); err == nil || !strings.Contains(err.Error(), "table tricky on openGauss has rows") {
		t.Errorf("copy onto a full table: %v", err)
	}
}

// dump reads a table as text rows in key order, by each engine's own SQL (an
// independent comparison: not xckit verify).
func dump(t *testing.T, db *dbx.DB, q string) []string {
	t.Helper()
	rows, err := db.Strings(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func compareDumps(t *testing.T, what string, src, dst []string) {
	t.Helper()
	if len(src) != len(dst) {
		t.Errorf("%s: %d rows on legacy, %d on openGauss", what, len(src), len(dst))
	}
	s := map[string]bool{}
	for _, r := range src {
		s[r] = true
	}
	d := map[string]bool{}
	missing, extra := 0, 0
	for _, r := range dst {
		d[r] = true
		if !s[r] {
			extra++
			if extra <= 3 {
				t.Errorf("%s: on openGauss only: %s", what, r)
			}
		}
	}
	for _, r := range src {
		if !d[r] {
			missing++
			if missing <= 3 {
				t.Errorf("%s: on legacy only: %s", what, r)
			}
		}
	}
}

// Under live writes (inserts of parents and children, updates, deletes), an online
// copy killed twice mid-table resumes after its last committed chunk; forward CDC then
// catches up from the copy's start, and an independent comparison finds the two sides
// equal: nothing lost, nothing twice.
func TestOnlineCopyUnderLoadResumes(t *testing.T) {
	p := newForwardPair(t)
	ctx := context.Background()
	parent := "CREATE TABLE acct (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, bal BIGINT NOT NULL)"
	child := "CREATE TABLE pay (id VARCHAR(40) PRIMARY KEY, acct BIGINT NOT NULL, amount BIGINT NOT NULL, note VARCHAR(40), CONSTRAINT pay_acct FOREIGN KEY (acct) REFERENCES acct (id))"
	execSQL(t, p.src, parent, child)
	execSQL(t, p.dst, parent, child)
	execSQL(t, p.src, "INSERT INTO acct SELECT seq, CONCAT('a', seq), 1000 FROM seq_1_to_3000",
		"INSERT INTO pay SELECT CONCAT('p', LPAD(seq, 7, '0')), 1 + seq % 3000, seq, NULL FROM seq_1_to_30000")
	// Live load on legacy until told to stop: a new account with payments, an update
	// and a delete per round.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var rounds atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := int64(100000)
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			next++
			tx, err := p.src.Begin()
			if err != nil {
				t.Error(err)
				return
			}
			stmts := []string{
				fmt.Sprintf("INSERT INTO acct VALUES (%d, 'new', 0)", next),
				fmt.Sprintf("INSERT INTO pay VALUES ('n%d', %d, 5, 'new')", next, next),
				fmt.Sprintf("UPDATE pay SET amount = amount + 1, note = 'upd' WHERE id = 'p%07d'", 1+rand.IntN(30000)),
				fmt.Sprintf("UPDATE acct SET bal = bal - 1 WHERE id = %d", 1+rand.IntN(3000)),
				fmt.Sprintf("DELETE FROM pay WHERE id = 'p%07d'", 1+rand.IntN(30000)),
			}
			for _, q := range stmts {
				if _, err := tx.Exec(q); err != nil {
					t.Errorf("%s: %v", q, err)
					tx.Rollback()
					return
				}
			}
			if err := tx.Commit(); err != nil {
				t.Error(err)
				return
			}
			rounds.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	slot := slotName(t)
	// Two crashes: the copy's context ends after a few chunks of the big table.
	for crash := range 2 {
		cctx, cancel := context.WithCancel(ctx)
		chunks := 0
		_, err := cdc.OnlineCopy(cctx, cdc.OnlineCopyOptions{From: p.src, To: p.dst, Slot: slot, Chunk: 1000, Parallel: 2,
			Progress: func(tp cdc.TableProgress) {
				if tp.Table == "pay" {
					if chunks++; chunks == 4 {
						cancel()
					}
				}
			}})
		cancel()
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("crash %d: the copy ended with %v", crash, err)
		}
		if left, err := cdc.UnfinishedCopy(ctx, p.dst, slot); err != nil || left == "" {
			t.Fatalf("crash %d: unfinished copy %q %v", crash, left, err)
		}
		// A forward run is refused until the copy is finished.
		if err := cdc.Run(ctx, cdc.RunOptions{Source: p.src, Target: p.dst, Slot: slot}); err == nil || !strings.Contains(err.Error(), "has not finished") {
			t.Fatalf("run before the copy finished: %v", err)
		}
	}
	rep, err := cdc.OnlineCopy(ctx, cdc.OnlineCopyOptions{From: p.src, To: p.dst, Slot: slot, Chunk: 1000, MaxRowsPerSecond: 200000})
	if err != nil {
		t.Fatalf("resumed copy: %v", err)
	}
	if !rep.Resumed {
		t.Errorf("the third copy did not resume: %+v", rep)
	}
	r := startForward(t, p, slot)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	waitCaughtUp(t, p, slot, r)
	st, err := cdc.GetStatus(ctx, p.src, p.dst, slot)
	if err != nil || st.CatchUpLSN != "" {
		t.Errorf("status after the catch-up: %+v %v", st, err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if rounds.Load() == 0 {
		t.Fatal("no live load ran")
	}
	compareDumps(t, "acct", dump(t, p.src, "SELECT CONCAT_WS('|', id, name, bal) FROM acct ORDER BY id"),
		dump(t, p.dst, "SELECT concat_ws('|', id, name, bal) FROM acct ORDER BY id"))
	compareDumps(t, "pay", dump(t, p.src, "SELECT CONCAT_WS('|', id, acct, amount, COALESCE(note, '-')) FROM pay ORDER BY id"),
		dump(t, p.dst, "SELECT concat_ws('|', id, acct, amount, COALESCE(note, '-')) FROM pay ORDER BY id"))
	t.Logf("%d live transactions during the copy; copy report %+v", rounds.Load(), rep)
}
