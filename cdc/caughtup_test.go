package cdc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

// lateSource plays a source whose write position runs ahead of what it can decode: the
// first read finds nothing although a commit at 0/90 was already written (position
// 0/100); the commit becomes readable on the second read.
type lateSource struct {
	mu      sync.Mutex
	round   int
	second  chan struct{} // closed when the second read starts
	release chan struct{} // the second read returns when this is closed
}

func (s *lateSource) CurrentLSN(context.Context) (cdc.LSN, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cdc.LSN(0x100 + 0x20*s.round), nil
}

func (s *lateSource) Next(ctx context.Context) ([]cdc.Txn, error) {
	s.mu.Lock()
	s.round++
	r := s.round
	s.mu.Unlock()
	switch r {
	case 1:
		return nil, nil
	case 2:
		close(s.second)
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []cdc.Txn{{XID: "7", CommitLSN: 0x90}}, nil
	}
	return nil, nil
}

func (s *lateSource) Confirm(context.Context, cdc.LSN) error { return nil }

// The caught-up mark a rollback waits for is never a position a read could not yet
// decode up to: one empty read after reading the write position proves nothing (the
// commit before it may not be flushed); only a position followed by two empty reads
// is recorded.
func TestCaughtUpNeverRunsAheadOfTheDecoder(t *testing.T) {
	env := labtest.Ensure(t)
	dsn := labtest.FreshDatabase(t, env, labtest.Legacy, labtest.DatabaseName("caughtup", t))
	ctx := context.Background()
	db, err := dbx.Open(ctx, dsn, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sink := cdc.NewSink(db, "late")
	if err := sink.EnsureCheckpointTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO " + cdc.CheckpointTable + " (slot, lsn, lsn_num) VALUES ('late', '0/1', 1)"); err != nil {
		t.Fatal(err)
	}
	src := &lateSource{second: make(chan struct{}), release: make(chan struct{})}
	pl := &cdc.Pipeline{Reader: src, Sink: sink, Idle: 10 * time.Millisecond}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pl.Run(rctx) }()
	select {
	case <-src.second:
	case <-time.After(10 * time.Second):
		t.Fatal("the pipeline never read twice")
	}
	// The commit at 0/90 is not applied yet: nothing at or past it may be marked.
	if err := cdc.WaitApplied(ctx, db, "late", 0x100, 200*time.Millisecond); err == nil {
		t.Fatal("after one empty read the position 0/100 was recorded as applied, though the commit at 0/90 was not")
	}
	close(src.release)
	if err := cdc.WaitApplied(ctx, db, "late", 0x100, 10*time.Second); err != nil {
		t.Fatalf("after the commit was applied and two empty reads: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
