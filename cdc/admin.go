package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// InitOptions are what `cdc init` needs.
type InitOptions struct {
	Source *dbx.DB
	Target *dbx.DB
	Slot   string
	Plugin string   // empty: the source dialect's default
	Tables []string // patterns; none = all
	// CreateTables creates source tables missing on a MySQL/MariaDB target.
	CreateTables bool
	// AfterFailover accepts a gap: legacy has a checkpoint, and the slot is missing on
	// the node that accepts writes now (or confirms past the checkpoint). The slot is
	// made there and the checkpoint moved to it; the result names the gap, which
	// xckit verify --repair closes. Without it such an init is refused.
	AfterFailover bool
}

// InitResult says what init found and did.
type InitResult struct {
	Slot       string   `json:"slot"`
	Plugin     string   `json:"plugin"`
	SlotMade   bool     `json:"created"`
	StartLSN   string   `json:"start_lsn"`
	Tables     []string `json:"tables"`
	Created    []string `json:"created_tables,omitempty"`
	Checkpoint string   `json:"checkpoint"`
	// Gap, after --after-failover: what legacy may lack, from the old checkpoint to
	// the new slot's start; repair from RepairSince.
	Gap *InitGap `json:"gap,omitempty"`
}

// InitGap is the window an init after a failover leaves to the repair.
type InitGap struct {
	Node        string    `json:"node"`
	From        string    `json:"from_lsn"` // legacy's checkpoint before
	To          string    `json:"to_lsn"`   // the new slot's start
	LastCommit  time.Time `json:"last_applied_commit,omitzero"`
	RepairSince time.Time `json:"repair_since,omitzero"`
}

// Init checks both sides and creates the slot and the checkpoint. Run it while no one
// writes to the source (during cutover, before the new system's first write): every
// change after the slot's start is then replicated. Running it again changes nothing.
func Init(ctx context.Context, o InitOptions) (InitResult, error) {
	if o.Source.Dialect.Family() == dbx.FamilyMySQL {
		return initForward(ctx, o)
	}
	res := InitResult{Slot: o.Slot, Plugin: o.Plugin}
	if res.Plugin == "" {
		res.Plugin = o.Source.Dialect.DefaultDecodingPlugin()
	}
	if _, err := DecoderFor(res.Plugin); err != nil {
		return res, err
	}
	walLevel, err := o.Source.Setting(ctx, "wal_level")
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	if walLevel != "logical" {
		return res, fmt.Errorf("source: wal_level is %s, logical decoding needs logical (openGauss: gs_guc set -c \"wal_level=logical\", then restart)", walLevel)
	}
	if o.CreateTables {
		src, err := Tables(ctx, o.Source, o.Tables)
		if err != nil {
			return res, err
		}
		have, err := Tables(ctx, o.Target, nil)
		if err != nil {
			return res, fmt.Errorf("target: %w", err)
		}
		for _, t := range src {
			if slices.Contains(have, t) {
				continue
			}
			if _, err := CreateTargetTable(ctx, o.Source, o.Target, t); err != nil {
				return res, err
			}
			res.Created = append(res.Created, t)
		}
	}
	tables, err := CheckTables(ctx, o.Source, o.Target, o.Tables)
	if err != nil {
		return res, err
	}
	res.Tables = tables
	sink := NewSink(o.Target, o.Slot)
	if err := sink.EnsureCheckpointTable(ctx); err != nil {
		return res, err
	}
	info, exists, err := SlotInfo(ctx, o.Source, o.Slot)
	if err != nil {
		return res, err
	}
	before, had, err := sink.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	var gap *GapError
	if had {
		// A stream legacy already follows: a new slot, or one past the checkpoint,
		// would start after changes legacy never got. Refused, unless told.
		if err := guardSlot(ctx, o.Source, o.Slot, before); err != nil {
			if !errors.As(err, &gap) {
				return res, err
			}
			if !o.AfterFailover {
				return res, fmt.Errorf("cdc init refused: %w", gap)
			}
		}
	}
	if exists {
		if info.Plugin != res.Plugin {
			return res, fmt.Errorf("slot %s exists with plugin %s, not %s: drop it (xckit cdc drop) or use another --slot", o.Slot, info.Plugin, res.Plugin)
		}
		res.StartLSN = info.Confirmed
	} else {
		var name, lsn string
		if err := o.Source.QueryRowContext(ctx, o.Source.Dialect.CreateSlotSQL(), o.Slot, res.Plugin).Scan(&name, &lsn); err != nil {
			return res, fmt.Errorf("source: create slot %s (%s): %w", o.Slot, res.Plugin, err)
		}
		res.SlotMade, res.StartLSN = true, lsn
	}
	start, err := ParseLSN(res.StartLSN)
	if err != nil {
		return res, err
	}
	cp, ok, err := sink.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	if !ok || res.SlotMade || gap != nil {
		// A new slot starts a new stream: its checkpoint starts at the slot.
		if err := sink.SetCheckpoint(ctx, start, 0); err != nil {
			return res, err
		}
		cp.LSN = start
	}
	if gap != nil {
		res.Gap = &InitGap{Node: gap.Node, From: gap.Applied.String(), To: start.String(), LastCommit: gap.Commit, RepairSince: gap.RepairSince()}
	}
	res.Checkpoint = cp.LSN.String()
	return res, nil
}

// CheckTables lists the source tables taking part and checks that the target has each
// with the same primary key.
func CheckTables(ctx context.Context, source, target *dbx.DB, patterns []string) ([]string, error) {
	for _, s := range []struct {
		side string
		db   *dbx.DB
	}{{"source", source}, {"target", target}} {
		mode, err := s.db.CompatibilityMode(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.side, err)
		}
		if err := dbx.RequirePGMode(mode, s.db.DSN.Database, s.side); err != nil {
			return nil, err
		}
	}
	tables, err := Tables(ctx, source, patterns)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("source: no tables match %v", patterns)
	}
	var problems []error
	for _, t := range tables {
		spk, err := PrimaryKey(ctx, source, t)
		if err != nil {
			problems = append(problems, fmt.Errorf("source: %w", err))
			continue
		}
		tpk, err := PrimaryKey(ctx, target, t)
		if err != nil {
			problems = append(problems, fmt.Errorf("target: %w", err))
			continue
		}
		if !slices.Equal(spk, tpk) {
			problems = append(problems, fmt.Errorf("table %s: primary key (%v) on the source but (%v) on the target", t, spk, tpk))
		}
	}
	return tables, errors.Join(problems...)
}

// Slot describes a replication slot.
type Slot struct {
	Plugin    string
	Active    bool
	Restart   string
	Confirmed string
}

// SlotInfo reads a slot; ok is false when it does not exist.
func SlotInfo(ctx context.Context, db *dbx.DB, slot string) (Slot, bool, error) {
	var s Slot
	q, err := db.Dialect.SlotInfoSQL()
	if err != nil {
		return s, false, fmt.Errorf("source: %w", err)
	}
	err = db.QueryRowContext(ctx, q, slot).Scan(&s.Plugin, &s.Active, &s.Restart, &s.Confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("source: read slot %s: %w", slot, err)
	}
	return s, true, nil
}

// Drop removes the slot from the source and its checkpoint from the target.
func Drop(ctx context.Context, source, target *dbx.DB, slot string) error {
	if IsForward(source) {
		// Nothing of a forward stream lives on the source.
	} else if _, ok, err := SlotInfo(ctx, source, slot); err != nil {
		return err
	} else if ok {
		if _, err := source.ExecContext(ctx, source.Dialect.DropSlotSQL(), slot); err != nil {
			return fmt.Errorf("source: drop slot %s: %w", slot, err)
		}
	}
	if target != nil {
		q := fmt.Sprintf("DELETE FROM %s WHERE slot = %s", CheckpointTable, target.Dialect.Placeholder(1))
		if _, err := target.ExecContext(ctx, q, slot); err != nil && !dbx.IsUndefinedTable(err) {
			return fmt.Errorf("target: remove checkpoint of %s: %w", slot, err)
		}
	}
	return nil
}

// Status is what `cdc status` shows.
type Status struct {
	Slot          string    `json:"slot"`
	Plugin        string    `json:"plugin"`
	Active        bool      `json:"active"`
	SourceLSN     string    `json:"source_lsn"`
	ConfirmedLSN  string    `json:"slot_confirmed_lsn"`
	AppliedLSN    string    `json:"applied_lsn"`   // commit of the last applied transaction
	CaughtUpLSN   string    `json:"caught_up_lsn"` // every commit before it is applied
	LagBytes      int64     `json:"lag_bytes"`     // source position - caught-up position
	LagSeconds    float64   `json:"lag_seconds"`   // everything committed more than this long ago is applied
	RetainedBytes int64     `json:"retained_wal_bytes"`
	LastCommit    time.Time `json:"last_applied_commit,omitzero"`
	AppliedAt     time.Time `json:"applied_at,omitzero"`
	// CatchUpLSN: after an online copy, the target is consistent once the stream has
	// applied past this position (forward CDC); empty once it has.
	CatchUpLSN string `json:"catch_up_to,omitempty"`
	// Rates, from two readings (Status.Since): how fast the target takes the
	// source's log (bytes of WAL or binary log per second) and the source writes it,
	// and when the lag will be gone at those rates (nil: no estimate, it is not
	// shrinking or there is none).
	ApplyBytesPerS  *float64 `json:"apply_bytes_per_s,omitempty"`
	SourceBytesPerS *float64 `json:"source_bytes_per_s,omitempty"`
	CatchUpSeconds  *float64 `json:"catch_up_eta_s,omitempty"`
}

// Since fills st's rates from an earlier reading prev taken dt before.
func (st *Status) Since(prev Status, dt time.Duration) {
	pos := func(s Status) (src, done LSN, ok bool) {
		a, err1 := ParseLSN(s.SourceLSN)
		b, err2 := ParseLSN(s.CaughtUpLSN)
		if err2 != nil || b == 0 {
			b, err2 = ParseLSN(s.AppliedLSN)
		}
		return a, b, err1 == nil && err2 == nil && a > 0
	}
	s0, d0, ok0 := pos(prev)
	s1, d1, ok1 := pos(*st)
	if !ok0 || !ok1 || dt <= 0 || s1 < s0 || d1 < d0 {
		return // another stream, a reset position, or nothing to compare
	}
	apply, source := float64(d1-d0)/dt.Seconds(), float64(s1-s0)/dt.Seconds()
	st.ApplyBytesPerS, st.SourceBytesPerS = &apply, &source
	if st.LagBytes == 0 {
		zero := 0.0
		st.CatchUpSeconds = &zero
	} else if apply > source {
		eta := float64(st.LagBytes) / (apply - source)
		st.CatchUpSeconds = &eta
	}
}

// GetStatus reads both sides. It never reads the slot itself, so it can run beside
// `cdc run` (a slot serves one session at a time).
func GetStatus(ctx context.Context, source, target *dbx.DB, slot string) (Status, error) {
	if IsForward(source) {
		return forwardStatus(ctx, source, target, slot)
	}
	st := Status{Slot: slot}
	info, ok, err := SlotInfo(ctx, source, slot)
	if err != nil {
		return st, err
	}
	if !ok {
		if cp, had, err := NewSink(target, slot).Checkpoint(ctx); err == nil && had {
			// Legacy follows this stream: the slot went (a failover, a drop).
			return st, guardSlot(ctx, source, slot, cp)
		}
		return st, fmt.Errorf("source has no slot %s: run xckit cdc init", slot)
	}
	st.Plugin, st.Active, st.ConfirmedLSN = info.Plugin, info.Active, info.Confirmed
	cur, err := CurrentLSN(ctx, source)
	if err != nil {
		return st, err
	}
	st.SourceLSN = cur.String()
	if r, err := ParseLSN(info.Restart); err == nil && cur > r {
		st.RetainedBytes = int64(cur - r)
	}
	cp, ok, err := NewSink(target, slot).Checkpoint(ctx)
	if err != nil {
		return st, err
	}
	if !ok {
		return st, fmt.Errorf("target has no checkpoint for slot %s: run xckit cdc init", slot)
	}
	st.AppliedLSN, st.LastCommit, st.AppliedAt = cp.LSN.String(), cp.CommitTime, cp.AppliedAt
	caught := max(cp.SeenLSN, cp.LSN)
	st.CaughtUpLSN = caught.String()
	if cur > caught {
		st.LagBytes = int64(cur - caught)
	}
	st.LagSeconds = lagSeconds(cp, time.Now())
	return st, nil
}

// lagSeconds bounds how long ago the oldest unapplied commit can be. Two bounds, the
// tighter wins: as of SeenAt everything before SeenLSN was applied (set when the
// pipeline found nothing more to read), and everything committed before the last
// applied transaction's commit time is applied (transactions apply in commit order).
// Under steady load the pipeline is never idle, so SeenAt alone grows stale while
// the CDC keeps up.
func lagSeconds(cp Checkpoint, now time.Time) float64 {
	since := cp.SeenAt
	if cp.CommitTime.After(since) {
		since = cp.CommitTime
	}
	if since.IsZero() {
		return 0
	}
	return max(0, now.Sub(since).Seconds())
}

// WaitApplied waits until every source transaction committed before lsn is applied
// on the target (the rollback's "wait until the CDC has applied the fence LSN").
func WaitApplied(ctx context.Context, target *dbx.DB, slot string, lsn LSN, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sink := NewSink(target, slot)
	for {
		cp, ok, err := sink.Checkpoint(ctx)
		if err == nil && ok && (cp.SeenLSN >= lsn || cp.LSN >= lsn) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CDC has not applied everything before %s within %s (caught up to %s): is xckit cdc run running?", lsn, timeout, max(cp.SeenLSN, cp.LSN))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
