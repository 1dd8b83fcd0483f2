package cdc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// TestBinlogLostMidReadHandsEveryTransactionOnce kills the server's binlog dump
// thread again and again while a read gathers a backlog: the read fails, and the next
// reads hand out every transaction exactly once. (Before, a read that failed after
// gathering whole transactions dropped them but had moved its resume position past
// them: they were never handed out.)
func TestBinlogLostMidReadHandsEveryTransactionOnce(t *testing.T) {
	p := newForwardPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	execSQL(t, p.src, "CREATE TABLE backlog (id BIGINT PRIMARY KEY, v VARCHAR(20))")
	from, err := cdc.SourcePosition(ctx, p.src)
	if err != nil {
		t.Fatal(err)
	}
	const txns, per = 300, 100
	for i := range txns {
		execSQL(t, p.src, fmt.Sprintf("INSERT INTO backlog SELECT seq + %d, 'row' FROM seq_1_to_%d", i*per, per))
	}
	end, err := cdc.SourcePosition(ctx, p.src)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cdc.NewBinlogSource(ctx, p.src, cdc.BinlogSourceOptions{From: from, Batch: 1 << 30, ServerID: 4100 + rand.Uint32N(800)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seen := map[int64]int{}
	var last cdc.LSN
	failed := 0
	for round := 0; last < end; round++ {
		if ctx.Err() != nil {
			t.Fatalf("not caught up after %d reads (%d rows seen)", round, len(seen))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if round < 12 {
				time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
				killDumps(ctx, t, p.src)
			}
		}()
		got, err := src.Next(ctx)
		<-done
		if err != nil {
			failed++
			continue
		}
		for _, tx := range got {
			last = tx.CommitLSN
			if err := tx.Each(func(c cdc.Change) error {
				for _, col := range c.Columns {
					if col.Name == "id" {
						id, err := strconv.ParseInt(col.Text, 10, 64)
						if err != nil {
							return err
						}
						seen[id]++
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no read failed: the kills did not land")
	}
	missing, twice := 0, 0
	for id := int64(1); id <= txns*per; id++ {
		switch n := seen[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		}
	}
	t.Logf("%d reads failed; %d rows seen", failed, len(seen))
	if missing > 0 || twice > 0 || len(seen) != txns*per {
		t.Fatalf("%d rows never handed out, %d handed out twice (of %d)", missing, twice, txns*per)
	}
}

// killDumps ends every binlog dump connection on the server.
func killDumps(ctx context.Context, t *testing.T, db *dbx.DB) {
	ids, err := db.Strings(ctx, "SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")
	if err != nil {
		t.Error(err)
		return
	}
	for _, id := range ids {
		db.ExecContext(ctx, "KILL CONNECTION "+id)
	}
}
