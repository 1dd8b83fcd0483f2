package cdc

import (
	"context"
	"fmt"

	"github.com/xckit/xckit/internal/dbx"
)

// SQLReader peeks decoded changes through pg_logical_slot_peek_changes and advances
// the slot only when told the data is safely applied.
type SQLReader struct {
	db    *dbx.DB
	slot  string
	dec   Decoder
	batch int
	query string
	opts  []any
	// Applied, when set, is legacy's checkpoint as the pipeline knows it; the reader
	// then checks the slot against it (guardSlot) before its first read and after
	// every lost connection, and a read that finds the slot gone is a GapError.
	Applied func(context.Context) (Checkpoint, error)
	// Spool bounds the memory of one large transaction (nil: DefaultSpoolBytes in
	// the system's temporary directory).
	Spool   *Spool
	guarded bool
}

// NewSQLReader reads slot on db with the plugin's decoder, batch changes at a time.
func NewSQLReader(db *dbx.DB, slot string, dec Decoder, batch int) *SQLReader {
	if batch <= 0 {
		batch = 5000
	}
	opts := dec.Options()
	args := make([]any, len(opts))
	for i, o := range opts {
		args[i] = o
	}
	return &SQLReader{db: db, slot: slot, dec: dec, batch: batch, query: db.Dialect.PeekChangesSQL(len(opts)), opts: args}
}

// Next returns the complete transactions available now (possibly none), in commit order.
func (r *SQLReader) Next(ctx context.Context) (_ []Txn, err error) {
	if r.Applied != nil && !r.guarded {
		if err := r.guard(ctx); err != nil {
			return nil, err
		}
		r.guarded = true
	}
	args := append([]any{r.slot, r.batch}, r.opts...)
	rows, err := r.db.QueryContext(ctx, r.query, args...)
	if err != nil {
		if gerr := r.sourceFailed(ctx, err); gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("peek slot %s: %w", r.slot, err)
	}
	defer rows.Close()
	var cur *Txn
	var txns []Txn
	defer func() {
		// A transaction cut off at the end is read again next time; on an error
		// nothing read is handed out.
		if cur != nil {
			cur.release()
		}
		if err != nil {
			releaseAll(txns)
		}
	}()
	for rows.Next() {
		var lsnText, xid, data string
		if err := rows.Scan(&lsnText, &xid, &data); err != nil {
			return nil, fmt.Errorf("peek slot %s: %w", r.slot, err)
		}
		lsn, err := ParseLSN(lsnText)
		if err != nil {
			return nil, err
		}
		c, err := r.dec.Decode(RawChange{LSN: lsn, XID: xid, Data: data})
		if err != nil {
			return nil, fmt.Errorf("at %s (xid %s): %w", lsn, xid, err)
		}
		switch c.Kind {
		case Begin:
			cur = &Txn{XID: xid}
		case Commit:
			if cur == nil {
				return nil, fmt.Errorf("at %s: COMMIT of xid %s without BEGIN", lsn, xid)
			}
			cur.CommitLSN, cur.CommitTime = lsn, c.CommitTime
			if err := cur.seal(); err != nil {
				return nil, err
			}
			txns = append(txns, *cur)
			cur = nil
		default:
			if cur == nil {
				return nil, fmt.Errorf("at %s: %s on %s outside a transaction", lsn, c.Kind, c.QualifiedName())
			}
			if err := cur.add(r.Spool, c); err != nil {
				return nil, err
			}
		}
	}
	// A transaction cut off at the end is read again next time: the slot is advanced
	// only to the last complete commit.
	return txns, rows.Err()
}

// sourceFailed looks at an error from the source, wherever the reader met it (peek,
// current position, advance): after a lost connection the next may reach another
// node, so the slot is checked again before the next read; a slot that is gone is a
// GapError when the checkpoint is known. It returns that error, or nil when err
// stands as it is.
func (r *SQLReader) sourceFailed(ctx context.Context, err error) error {
	if dbx.IsTransient(err) {
		r.guarded = false
	}
	if r.Applied != nil && dbx.IsUndefinedObject(err) {
		return r.guard(ctx)
	}
	return nil
}

func (r *SQLReader) guard(ctx context.Context) error {
	cp, err := r.Applied(ctx)
	if err != nil {
		return err
	}
	return guardSlot(ctx, r.db, r.slot, cp)
}

// CurrentLSN is the source's current write position.
func (r *SQLReader) CurrentLSN(ctx context.Context) (LSN, error) {
	lsn, err := CurrentLSN(ctx, r.db)
	if err != nil {
		if gerr := r.sourceFailed(ctx, err); gerr != nil {
			return 0, gerr
		}
	}
	return lsn, err
}

// CurrentLSN reads a PostgreSQL-family database's current write position.
func CurrentLSN(ctx context.Context, db *dbx.DB) (LSN, error) {
	var s string
	if err := db.QueryRowContext(ctx, db.Dialect.CurrentLSNSQL()).Scan(&s); err != nil {
		return 0, fmt.Errorf("source: current LSN: %w", err)
	}
	return ParseLSN(s)
}

// Confirm advances the slot to upTo: the source may now recycle what comes before it.
func (r *SQLReader) Confirm(ctx context.Context, upTo LSN) error {
	if _, err := r.db.ExecContext(ctx, r.db.Dialect.AdvanceSlotSQL(), r.slot, upTo.String()); err != nil {
		// The failover can land between the apply and the advance: the checkpoint
		// holds the batch, the slot on the new primary is gone.
		if gerr := r.sourceFailed(ctx, err); gerr != nil {
			return gerr
		}
		return fmt.Errorf("advance slot %s to %s: %w", r.slot, upTo, err)
	}
	return nil
}
