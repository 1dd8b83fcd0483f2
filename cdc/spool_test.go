package cdc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/labtest"
)

// TestLargeTransactionSpooled: a source transaction past the reader's memory bound is
// written to the spool directory as it arrives and applied from there, still as one
// target transaction with its checkpoint (a reader of the target never sees part of
// it), for each reader: the slot peeked (sql) and streamed towards legacy, and the
// binary log towards openGauss. The spool file is gone afterwards.
func TestLargeTransactionSpooled(t *testing.T) {
	const big = 20000
	for _, tc := range []struct{ name, reader string }{
		{"reverse_sql", cdc.ReaderSQL},
		{"reverse_stream", cdc.ReaderStream},
		{"forward", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *pair
			var create, row, bulk string
			if tc.reader == "" {
				p = newForwardPair(t)
				create = "CREATE TABLE spooled (id BIGINT PRIMARY KEY, body VARCHAR(200))"
				row = "INSERT INTO spooled VALUES (%d, 'one row')"
				bulk = "INSERT INTO spooled SELECT seq + 10, REPEAT('x', 150) FROM seq_1_to_%d"
			} else {
				p = newPair(t, labtest.Legacy)
				create = "CREATE TABLE spooled (id BIGINT PRIMARY KEY, body VARCHAR(200))"
				execSQL(t, p.dst, create)
				row = "INSERT INTO spooled VALUES (%d, 'one row')"
				bulk = "INSERT INTO spooled SELECT g + 10, repeat('x', 150) FROM generate_series(1, %d) g"
			}
			execSQL(t, p.src, create)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			slot := slotName(t)
			init := cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot, Plugin: labPlugin}
			if tc.reader == "" {
				init.Plugin, init.CreateTables = "", true
			}
			if _, err := cdc.Init(ctx, init); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			spool := &cdc.Spool{Dir: dir, Bytes: 256 << 10}
			// What a killed run of the slot left: the next run removes it.
			if err := os.WriteFile(filepath.Join(dir, "xckit-cdc-"+slot+"-1234.spool"), []byte("stale"), 0o600); err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- cdc.Run(runCtx, cdc.RunOptions{Source: p.src, Target: p.dst, Slot: slot, Reader: tc.reader, Batch: 1000,
					Spool: spool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			}()
			// The target's row count, read all along: only whole transactions.
			var mu sync.Mutex
			counts := map[int]int{}
			watch, endWatch := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() {
				for watch.Err() == nil {
					var n int
					if err := p.dst.QueryRowContext(watch, "SELECT COUNT(*) FROM spooled").Scan(&n); err == nil {
						mu.Lock()
						counts[n]++
						mu.Unlock()
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			execSQL(t, p.src, fmt.Sprintf(row, 1), fmt.Sprintf(bulk, big), fmt.Sprintf(row, 2))
			pos, err := cdc.SourcePosition(ctx, p.src)
			if err != nil {
				t.Fatal(err)
			}
			wait := make(chan error, 1)
			go func() { wait <- cdc.WaitApplied(ctx, p.dst, slot, pos, 90*time.Second) }()
			select {
			case err := <-done:
				t.Fatalf("the run stopped: %v", err)
			case err := <-wait:
				if err != nil {
					t.Fatal(err)
				}
			}
			endWatch()
			wg.Wait()
			stop()
			if err := <-done; err != nil {
				t.Fatalf("cdc run: %v", err)
			}
			if n := spool.Spilled.Load(); n < 1 {
				t.Errorf("%d transactions spooled, want the large one", n)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("spool files left: %v", left)
			}
			for n := range counts {
				if n != 0 && n != 1 && n != big+1 && n != big+2 {
					t.Errorf("the target showed %d rows: part of the large transaction (counts seen %v)", n, counts)
				}
			}
			var n, long int
			if err := p.dst.QueryRowContext(ctx, "SELECT COUNT(*), SUM(CASE WHEN LENGTH(body) = 150 THEN 1 ELSE 0 END) FROM spooled").Scan(&n, &long); err != nil {
				t.Fatal(err)
			}
			if n != big+2 || long != big {
				t.Errorf("target has %d rows (%d of the large transaction), want %d (%d)", n, long, big+2, big)
			}
		})
	}
}
