package cdc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// StreamReader follows a slot over the streaming replication protocol: the server
// decodes each change once, as it writes it, and sends it. A peek decodes again from
// the slot's restart position every time, so its cost grows with what is not yet
// confirmed (on PostgreSQL the restart position moves only at a running-transactions
// record, every 15 s at best). The stream gives the same rows at the same positions
// (the COMMIT at its transaction's end, as the peek's location column), so the
// checkpoint means the same and a run may switch readers between restarts. The
// source's position and the slot's guard come from the SQLReader it embeds, on an
// ordinary connection.
type StreamReader struct {
	*SQLReader
	opts []string
	// Wait is the longest a read waits for its first transaction (default 200ms);
	// Gather how long it goes on gathering after that, while more arrive at once
	// (default 25ms), up to the batch's changes: while a batch is applied the next
	// one gathers in the connection, and is read at once. (At 500 payments/s, 25 ms
	// cost the platform's p99 1.1x against 2x with 5 ms, for a p50 lag of 24 ms
	// against 13: docs/benchmarks.md.)
	Wait, Gather time.Duration

	stream *dbx.LogicalStream
	cur    *Txn
	xid    string
	// caughtUp is the server's position from a keepalive that came while no
	// transaction was arriving and none was gathered: every commit before it was
	// sent, and so returned by an earlier Next.
	caughtUp LSN
}

// NewStreamReader reads slot on db (whose DSN it connects again, for replication)
// with the plugin's decoder, batch changes at a time at most.
func NewStreamReader(db *dbx.DB, slot string, dec Decoder, batch int) *StreamReader {
	return &StreamReader{SQLReader: NewSQLReader(db, slot, dec, batch), opts: dec.Options(), Wait: 200 * time.Millisecond, Gather: 25 * time.Millisecond}
}

// Next returns the complete transactions that arrived (possibly none after Wait), in
// commit order. A transaction still arriving stays for the next read.
func (r *StreamReader) Next(ctx context.Context) (_ []Txn, err error) {
	if r.Applied != nil && !r.guarded {
		if err := r.guard(ctx); err != nil {
			return nil, err
		}
		r.guarded = true
	}
	if r.stream == nil {
		if err := r.connect(ctx); err != nil {
			return nil, r.failed(ctx, err)
		}
	}
	var txns []Txn
	defer func() {
		if err != nil {
			releaseAll(txns) // sent again from the confirmed position
		}
	}()
	changes := 0
	deadline := time.Now().Add(r.Wait)
	for changes < r.batch {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		m, ok, err := r.stream.Receive(rctx)
		cancel()
		if err != nil {
			return nil, r.failed(ctx, err)
		}
		if !ok {
			if ctx.Err() != nil {
				return nil, r.failed(ctx, ctx.Err())
			}
			break // the deadline: nothing more now
		}
		if m.Keepalive {
			if r.cur == nil && len(txns) == 0 {
				r.caughtUp = max(r.caughtUp, LSN(m.WALEnd))
			}
			continue
		}
		t, err := r.add(m)
		if err != nil {
			return nil, r.failed(ctx, err)
		}
		if r.cur != nil {
			changes++
		}
		if t != nil {
			if len(txns) == 0 {
				if g := time.Now().Add(r.Gather); g.Before(deadline) {
					deadline = g
				}
			}
			txns = append(txns, *t)
		}
	}
	return txns, nil
}

// CaughtUp is a position every commit before which the reader has returned (the
// walsender's: it sends what it decoded before a keepalive, in order), or 0. When the
// pipeline has applied what it returned, it may record the position and confirm it:
// with nothing to replicate (writes in other databases only) the slot still moves,
// and the WAL it holds stays bounded.
func (r *StreamReader) CaughtUp() LSN { return r.caughtUp }

// add takes one row of the plugin's output; it returns the transaction it completes.
func (r *StreamReader) add(m dbx.StreamMessage) (*Txn, error) {
	lsn := LSN(m.Start)
	c, err := r.dec.Decode(RawChange{LSN: lsn, XID: r.xid, Data: string(m.Data)})
	if err != nil {
		return nil, fmt.Errorf("at %s (xid %s): %w", lsn, r.xid, err)
	}
	switch c.Kind {
	case Begin:
		// The stream carries no xid: BEGIN's text has it (include-xids), as
		// "BEGIN <xid>" in mppdb_decoding (pg_output_begin) and test_decoding.
		r.xid = ""
		if f := strings.Fields(string(m.Data)); len(f) > 1 {
			r.xid = f[1]
		}
		r.dropCurrent()
		r.cur = &Txn{XID: r.xid}
	case Commit:
		if r.cur == nil {
			return nil, fmt.Errorf("at %s: COMMIT without BEGIN in the stream", lsn)
		}
		t := r.cur
		t.CommitLSN, t.CommitTime = lsn, c.CommitTime
		r.cur, r.xid = nil, ""
		if err := t.seal(); err != nil {
			t.release()
			return nil, err
		}
		return t, nil
	default:
		if r.cur == nil {
			return nil, fmt.Errorf("at %s: %s on %s outside a transaction", lsn, c.Kind, c.QualifiedName())
		}
		if err := r.cur.add(r.Spool, c); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (r *StreamReader) connect(ctx context.Context) error {
	s, err := dbx.OpenLogicalStream(ctx, r.db.DSN, r.db.Dialect, dbx.Options{AppName: "xckit-cdc-stream"})
	if err != nil {
		return fmt.Errorf("stream slot %s: %w", r.slot, err)
	}
	// From the slot's confirmed position: what the checkpoint already covers comes
	// again and the pipeline skips it.
	if err := s.Start(ctx, r.slot, 0, r.opts); err != nil {
		s.Close()
		return err
	}
	r.dropCurrent()
	r.stream, r.xid, r.caughtUp = s, "", 0
	return nil
}

// dropCurrent forgets the transaction still arriving (the server sends it again).
func (r *StreamReader) dropCurrent() {
	if r.cur != nil {
		r.cur.release()
		r.cur = nil
	}
}

// failed ends the connection (the next read connects again and the server sends
// again from the slot's confirmed position) and says what the error means.
func (r *StreamReader) failed(ctx context.Context, err error) error {
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
	r.dropCurrent()
	r.xid, r.caughtUp = "", 0
	if gerr := r.sourceFailed(ctx, err); gerr != nil {
		return gerr
	}
	return err
}

// Confirm tells the server the target has committed everything up to upTo: the
// slot's confirmed position moves, and the server may recycle what comes before.
func (r *StreamReader) Confirm(ctx context.Context, upTo LSN) error {
	if r.stream == nil {
		return r.SQLReader.Confirm(ctx, upTo)
	}
	if err := r.stream.Confirm(uint64(upTo)); err != nil {
		return r.failed(ctx, err)
	}
	return nil
}

// Close ends the stream.
func (r *StreamReader) Close() {
	r.dropCurrent()
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
}
