package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// Pipeline moves changes from a reader to a sink. Order per batch: peek, apply data
// and checkpoint in one target transaction, commit, then advance the slot. A crash
// anywhere re-reads from the slot and skips what the checkpoint covers.
type Pipeline struct {
	Reader  Source
	Sink    Applier
	Tables  []string // patterns of source tables to replicate (none = all)
	Log     *slog.Logger
	Idle    time.Duration // wait when there is nothing to read (default 100ms)
	MaxWait time.Duration // longest backoff when a side is down (default 10s)
	Stats   *Stats
}

// Source is what the pipeline reads from: decoded source transactions in commit order,
// the source's current (write) position, and the confirmation that the target has
// committed everything up to a position. SQLReader is today's implementation.
type Source interface {
	Next(ctx context.Context) ([]Txn, error)
	CurrentLSN(ctx context.Context) (LSN, error)
	Confirm(ctx context.Context, upTo LSN) error
}

// Applier is what the pipeline writes to: it applies source transactions together
// with the checkpoint that covers them, in one target transaction (so that a crash
// anywhere leaves both or neither), and reads that checkpoint back. Sink is today's
// implementation, for MySQL/MariaDB and the PostgreSQL family.
type Applier interface {
	Slot() string
	Checkpoint(ctx context.Context) (Checkpoint, bool, error)
	// Apply applies txns and records upTo as the checkpoint, atomically; it returns
	// the rows written.
	Apply(ctx context.Context, txns []Txn, upTo LSN) (int, error)
	// MarkSeen records that every source transaction before lsn is applied.
	MarkSeen(ctx context.Context, lsn LSN) error
}

// Stats are the pipeline's counters, safe to read while it runs.
type Stats struct {
	Txns, Rows, Batches atomic.Int64
	AppliedLSN          atomic.Uint64
	SourceLSN           atomic.Uint64 // the source's write position at the last read
	SeenLSN             atomic.Uint64 // the caught-up position last recorded
	LastCommitUnixNano  atomic.Int64
	Retries             atomic.Int64
	// BehindSinceUnixNano: when the last read that found changes came after one
	// that found none (0: caught up, or not started) — the lag's clock while
	// nothing has been applied yet.
	BehindSinceUnixNano atomic.Int64
	// RetainedBytes is the WAL (or binary log) the source keeps for the stream, as
	// cdc run samples it (-1: not sampled).
	RetainedBytes atomic.Int64
	// Batch is the time from a read to its batch confirmed (read, apply, commit,
	// advance), and RetriesBy the retries by step.
	Batch     Histogram
	RetriesBy sync.Map // step (string) -> *atomic.Int64
}

// LagSeconds is how far behind the target is: 0 when the last read found nothing
// new, else the age of the oldest commit possibly not applied (the last applied
// commit's time, or when the lag began).
func (s *Stats) LagSeconds(now time.Time) float64 {
	applied := max(s.AppliedLSN.Load(), s.SeenLSN.Load())
	if s.SourceLSN.Load() <= applied || s.BehindSinceUnixNano.Load() == 0 {
		return 0
	}
	from := max(s.LastCommitUnixNano.Load(), s.BehindSinceUnixNano.Load())
	return max(now.Sub(time.Unix(0, from)).Seconds(), 0)
}

func (s *Stats) retried(step string) {
	s.Retries.Add(1)
	c, _ := s.RetriesBy.LoadOrStore(step, &atomic.Int64{})
	c.(*atomic.Int64).Add(1)
}

// Run replicates until ctx ends. On cancellation it finishes the batch in hand
// (applied and checkpointed, slot advanced) and returns nil. A change that cannot be
// applied returns its error: the slot is not advanced past it.
func (p *Pipeline) Run(ctx context.Context) error {
	p.defaults()
	cp, err := p.startingCheckpoint(ctx)
	if err != nil {
		return err
	}
	p.Stats.AppliedLSN.Store(uint64(cp.LSN))
	p.Log.Info("cdc: running", "slot", p.Sink.Slot(), "checkpoint", cp.LSN.String())
	st := &runState{cp: cp}
	for ctx.Err() == nil {
		if stop, err := p.round(ctx, st); stop || err != nil {
			return err
		}
	}
	p.Log.Info("cdc: stopped", "slot", p.Sink.Slot(), "applied", LSN(p.Stats.AppliedLSN.Load()).String())
	return nil
}

func (p *Pipeline) defaults() {
	if p.Idle <= 0 {
		p.Idle = 100 * time.Millisecond
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 10 * time.Second
	}
	if p.Stats == nil {
		p.Stats = NewStats()
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
}

// runState is what the loop carries from one round to the next.
type runState struct {
	cp   Checkpoint
	seen LSN // the caught-up position last recorded
	// quiet is the source position read before the last read that found nothing (0
	// after a read that found changes). The position is the write position, while a
	// read decodes only what is flushed: a commit written just before it may not be
	// readable yet. Only a position read one empty round earlier, and followed by a
	// second empty read, is recorded as caught up.
	quiet LSN
}

// startingCheckpoint reads the target's checkpoint (cdc init made it).
func (p *Pipeline) startingCheckpoint(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	err := p.retry(ctx, "read the checkpoint", func(c context.Context) error {
		var ok bool
		var err error
		cp, ok, err = p.Sink.Checkpoint(c)
		if err == nil && !ok {
			return permanent(fmt.Errorf("no checkpoint for slot %s on the target: run xckit cdc init first", p.Sink.Slot()))
		}
		return err
	})
	return cp, err
}

// round reads once and applies what it read; stop says the run is over (err nil: a
// clean stop on cancellation).
func (p *Pipeline) round(ctx context.Context, st *runState) (stop bool, err error) {
	var txns []Txn
	var before LSN // the source's position before the read
	began := time.Now()
	err = p.retry(ctx, "read the source", func(c context.Context) error {
		var err error
		if before, err = p.Reader.CurrentLSN(c); err != nil {
			return err
		}
		p.Stats.SourceLSN.Store(uint64(before))
		txns, err = p.Reader.Next(c)
		return err
	})
	if err != nil {
		return true, cleanStop(ctx, err)
	}
	if len(txns) == 0 {
		p.Stats.BehindSinceUnixNano.Store(0)
		return p.idle(ctx, st, before)
	}
	defer releaseAll(txns) // spool files: applied, skipped or read again next time
	if p.Stats.BehindSinceUnixNano.Load() == 0 {
		p.Stats.BehindSinceUnixNano.Store(began.UnixNano())
	}
	st.quiet = 0
	read := time.Since(began)
	upTo := txns[len(txns)-1].CommitLSN
	apply := make([]Txn, 0, len(txns))
	for _, t := range txns {
		if t.CommitLSN <= st.cp.LSN {
			continue // applied before a crash, slot not yet advanced: never twice
		}
		apply = append(apply, p.filter(t))
	}
	// The batch in hand is finished even if we are asked to stop meanwhile.
	work := context.WithoutCancel(ctx)
	if len(apply) > 0 {
		if err := p.apply(ctx, work, apply, upTo); err != nil {
			if ctx.Err() != nil && !isPermanent(err) {
				return true, nil
			}
			return true, err
		}
		st.cp.LSN = upTo
	}
	if err := p.retry(work, "advance the slot", func(c context.Context) error { return p.Reader.Confirm(c, upTo) }); err != nil {
		return true, err
	}
	p.Stats.Batch.Observe(time.Since(began))
	p.Log.Debug("cdc: batch", "txns", len(txns), "applied", len(apply), "read_ms", read.Milliseconds(), "total_ms", time.Since(began).Milliseconds())
	return false, nil
}

// idle: nothing was read. Nothing to read twice in a row: every commit before the
// position read one round earlier is applied, and recorded so.
func (p *Pipeline) idle(ctx context.Context, st *runState, before LSN) (stop bool, err error) {
	if cu, ok := p.Reader.(caughtUpReader); ok {
		// A stream's empty read says only that nothing arrived in time, not that
		// nothing committed before a position read earlier: only the stream's own
		// caught-up position counts.
		return false, p.streamCaughtUp(ctx, st, cu.CaughtUp())
	}
	if safe := st.quiet; safe > st.seen {
		if err := p.retry(ctx, "record the caught-up position", func(c context.Context) error { return p.Sink.MarkSeen(c, safe) }); err != nil {
			return true, cleanStop(ctx, err)
		}
		st.seen = safe
		p.Stats.SeenLSN.Store(uint64(safe))
	}
	st.quiet = before
	select {
	case <-ctx.Done():
	case <-time.After(p.Idle):
	}
	return false, nil
}

// caughtUpReader is a reader that waits for changes itself and knows a position
// every commit before which it has returned (StreamReader).
type caughtUpReader interface {
	CaughtUp() LSN
}

// streamCaughtUp records the stream's caught-up position on the target, then
// confirms it to the source: the slot moves with nothing to replicate, and never
// passes what the target records.
func (p *Pipeline) streamCaughtUp(ctx context.Context, st *runState, safe LSN) error {
	if safe <= st.seen || safe <= st.cp.LSN {
		return nil
	}
	if err := p.retry(ctx, "record the caught-up position", func(c context.Context) error { return p.Sink.MarkSeen(c, safe) }); err != nil {
		return cleanStop(ctx, err)
	}
	st.seen = safe
	p.Stats.SeenLSN.Store(uint64(safe))
	if err := p.retry(ctx, "advance the slot", func(c context.Context) error { return p.Reader.Confirm(c, safe) }); err != nil {
		return cleanStop(ctx, err)
	}
	return nil
}

// apply writes a batch with its checkpoint, retrying while a side is unreachable.
// After a lost connection the commit may have happened: the checkpoint, written in the
// same transaction, tells.
func (p *Pipeline) apply(ctx, work context.Context, apply []Txn, upTo LSN) error {
	var rows int
	tried := false
	err := p.retry(ctx, "apply to the target", func(context.Context) error {
		// A first try cannot have committed (the batch starts past the checkpoint
		// the run holds); after a failed one the checkpoint says whether it did.
		if tried {
			if now, ok, err := p.Sink.Checkpoint(work); err != nil {
				return err
			} else if ok && now.LSN >= upTo {
				return nil
			}
		}
		tried = true
		var err error
		rows, err = p.Sink.Apply(work, apply, upTo)
		return err
	})
	if err != nil {
		return err
	}
	p.Stats.Rows.Add(int64(rows))
	p.Stats.Txns.Add(int64(len(apply)))
	p.Stats.Batches.Add(1)
	p.Stats.AppliedLSN.Store(uint64(upTo))
	if ct := apply[len(apply)-1].CommitTime; !ct.IsZero() {
		p.Stats.LastCommitUnixNano.Store(ct.UnixNano())
	}
	return nil
}

// cleanStop: an error caused by the run being stopped is a clean stop.
func cleanStop(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// filter keeps the changes of the replicated tables.
func (p *Pipeline) filter(t Txn) Txn {
	if t.Spooled() {
		t.keep = func(c Change) bool { return Selected(c.Table, p.Tables) }
		return t
	}
	kept := t.Changes[:0:0]
	for _, c := range t.Changes {
		if Selected(c.Table, p.Tables) {
			kept = append(kept, c)
		}
	}
	t.Changes = kept
	return t
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// retry runs f until it succeeds, retrying with backoff while the failure is a lost
// or refused connection (a side restarting); any other error is returned at once.
func (p *Pipeline) retry(ctx context.Context, what string, f func(context.Context) error) error {
	wait := 200 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return err
		}
		p.Stats.retried(what)
		p.Log.Warn("cdc: waiting for the database", "step", what, "retry_in", wait, "err", dbx.Redact(err.Error()))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(wait*2, p.MaxWait)
	}
}

// transient reports a connection-level failure (the database is down or restarting)
// that is not one of the pipeline's own permanent errors.
func transient(err error) bool {
	return !isPermanent(err) && dbx.IsTransient(err)
}
