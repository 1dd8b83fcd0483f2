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
	Node    string    // where the source connection is now
	Missing bool      // no slot there; otherwise it is ahead
	SlotLSN LSN       // the slot's confirmed position (ahead)
	Applied LSN       // legacy's checkpoint: every change before it is there
	Commit  time.Time // the last applied source commit's time (zero: none yet)
}

func (e *GapError) Error() string {
	what := fmt.Sprintf("the slot %s is missing on %s, the node that accepts writes now (the primary changed, or the slot was dropped)", e.Slot, e.Node)
	if !e.Missing {
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
	return nil
}
