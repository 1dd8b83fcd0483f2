package cdc

import (
	"context"
	"fmt"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// GapError is a reverse stream that cannot go on without possibly skipping changes:
// the slot is gone from the node that accepts writes (a failover or switchover onto
// a node without it, a slot dropped), or it confirms a position past what legacy has
// (a slot re-created, or one a standby kept from further on). Continuing would
// silently lose the changes in between (Debezium DBZ-5739, Patroni #1749), so the run
// stops and says what may be missing and how to close it. Nothing was applied past
// Applied.
type GapError struct {
	Slot    string
	Node    string // where the source connection is now
	Missing bool   // no slot there; otherwise it is ahead, or Diverged
	// Diverged: the slot is there and not ahead, but the node's history does not hold
	// legacy's last applied transaction at its position (a standby promoted before it
	// had it: openGauss keeps one timeline across a failover, so positions after the
	// promotion point name other transactions than the old primary's).
	Diverged  bool
	SourceTxn string    // legacy's last applied transaction (Diverged)
	SlotLSN   LSN       // the slot's confirmed position (ahead)
	Applied   LSN       // legacy's checkpoint: every change before it is there
	Commit    time.Time // the last applied source commit's time (zero: none yet)
}

func (e *GapError) Error() string {
	what := fmt.Sprintf("the slot %s is missing on %s, the node that accepts writes now (the primary changed, or the slot was dropped)", e.Slot, e.Node)
	switch {
	case e.Diverged:
		what = fmt.Sprintf("the slot %s on %s is there, but that node's history does not hold legacy's last applied transaction (xid %s committed at %s): "+
			"it became the primary before it had that transaction (an asynchronous standby promoted behind), so legacy may hold transactions this node lost, "+
			"and this node's new transactions sit at positions legacy counts as applied. Before the repair below, run xckit verify (without --repair) and bring "+
			"the rows only legacy has onto this node if they must survive: the repair makes legacy equal to the source", e.Slot, e.Node, e.SourceTxn, e.Applied)
	case !e.Missing:
		what = fmt.Sprintf("the slot %s on %s confirms %s, past legacy's checkpoint %s (the slot was re-created, or the primary changed to a node whose copy of it is ahead): the changes between were never applied", e.Slot, e.Node, e.SlotLSN, e.Applied)
	}
	since := "its first change"
	if !e.Commit.IsZero() {
		since = "the last applied commit at " + e.Commit.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s. Legacy has every change up to %s (%s); what the source committed after that may not be in legacy, and nothing past it was applied. "+
		"Close the gap: 1) xckit cdc init --after-failover (same --source, --target, --slot) re-creates the slot on the node that accepts writes, before writes resume if you can; "+
		"2) xckit verify --repair --yes --since %s (the source is right) repairs the rows changed since; 3) xckit cdc run. See docs/rollback.md, \"The primary changed\"",
		what, e.Applied, since, e.RepairSince().Format(time.RFC3339))
}

// RepairSince is where the repair's comparison starts: five minutes before the last
// applied commit (clocks of two servers; a transaction's rows are stamped before it
// commits), or the zero time (compare everything) when nothing was applied yet.
func (e *GapError) RepairSince() time.Time {
	if e.Commit.IsZero() {
		return time.Time{}
	}
	return e.Commit.Add(-5 * time.Minute).UTC().Truncate(time.Second)
}

// guardSlot checks, before the reverse stream reads (at the start and after every lost
// connection), that the slot on the node the source reaches now still starts at or
// before legacy's checkpoint cp: nothing can have been skipped.
func guardSlot(ctx context.Context, source *dbx.DB, slot string, cp Checkpoint) error {
	info, ok, err := SlotInfo(ctx, source, slot)
	if err != nil {
		return err
	}
	at, err := source.ServedBy(ctx)
	if err != nil {
		at = dbx.Endpoint{Host: source.DSN.Host, Port: source.DSN.Port}
	}
	node := at.String()
	gap := &GapError{Slot: slot, Node: node, Applied: max(cp.LSN, cp.SeenLSN), Commit: cp.CommitTime}
	if !ok {
		gap.Missing = true
		return permanent(gap)
	}
	confirmed, err := ParseLSN(info.Confirmed)
	if err != nil || confirmed == 0 {
		return nil // no confirmed position reported: nothing to compare
	}
	// The pipeline advances the slot only to a commit it has applied (Confirm after
	// Apply), so a healthy slot is never past the checkpoint.
	if confirmed > cp.LSN && confirmed > cp.SeenLSN {
		gap.SlotLSN = confirmed
		return permanent(gap)
	}
	// Confirmed before the checkpoint (a run that stopped between apply and advance,
	// or a standby's copy of the slot that lags): the stream from there must hold the
	// last applied transaction at its position, or this node's history is another.
	if confirmed < cp.LSN && cp.LSN > 0 {
		held, err := holdsApplied(ctx, source, slot, cp)
		if err != nil {
			return err
		}
		if !held {
			gap.Diverged, gap.SlotLSN, gap.SourceTxn, gap.Applied = true, confirmed, cp.SourceTxn, cp.LSN
			return permanent(gap)
		}
	}
	return nil
}

// holdsApplied peeks the slot up to the checkpoint's commit and reports whether the
// transaction legacy applied last is there: a change row at its commit position
// with its transaction id (any id when the checkpoint names none).
func holdsApplied(ctx context.Context, source *dbx.DB, slot string, cp Checkpoint) (bool, error) {
	rows, err := source.QueryContext(ctx, source.Dialect.PeekUptoSQL(), slot, cp.LSN.String())
	if err != nil {
		return false, fmt.Errorf("read slot %s up to legacy's checkpoint %s: %w", slot, cp.LSN, err)
	}
	defer rows.Close()
	for rows.Next() {
		var lsnText, xid string
		if err := rows.Scan(&lsnText, &xid); err != nil {
			return false, fmt.Errorf("read slot %s up to legacy's checkpoint %s: %w", slot, cp.LSN, err)
		}
		if lsn, err := ParseLSN(lsnText); err == nil && lsn == cp.LSN && (cp.SourceTxn == "" || xid == cp.SourceTxn) {
			return true, nil
		}
	}
	return false, rows.Err()
}
