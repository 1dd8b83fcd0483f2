package cdc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// The online copy loads the legacy tables into openGauss while the legacy system
// keeps serving. It records the binary-log position first (the forward stream's
// checkpoint), copies each table in primary-key chunks, each chunk committed on
// openGauss together with the table's progress row (so a crash resumes after the last
// committed chunk: nothing twice), and records the position at its end as the
// catch-up point. Forward CDC then applies the binary log from the first position:
// a row the copy already holds is overwritten by the same or a later image, a delete
// may find its row gone, and a child may arrive before its parent; past the catch-up
// point the target is consistent and every such leniency ends (Sink.catchUp).

// CopyProgressTable records, per stream and table, how far an online copy has come.
const CopyProgressTable = "xckit_copy_progress"

// OnlineCopyOptions drive an online copy.
type OnlineCopyOptions struct {
	From, To         *dbx.DB // the legacy MySQL/MariaDB, openGauss
	Slot             string  // the forward stream (its checkpoint)
	Tables           []string
	Chunk            int // rows per chunk (default 10000)
	Parallel         int // tables at once (default 2)
	MaxRowsPerSecond int // 0: as fast as it goes
	// SlowChunk: a chunk whose write takes longer says the target is loaded; the copy
	// pauses as long before the next (default 1s).
	SlowChunk time.Duration
	Progress  func(TableProgress) // after each chunk (may be nil)
	Log       *slog.Logger
}

// TableProgress is one table's state during an online copy.
type TableProgress struct {
	Table    string
	Rows     int64 // copied so far (a resumed copy counts the earlier runs too)
	Before   int64 // of those, copied by earlier (interrupted) runs
	Estimate int64 // the source's estimate of the table's rows
	Started  time.Time
	Done     bool
}

// OnlineCopyReport is what an online copy did.
type OnlineCopyReport struct {
	Slot       string        `json:"slot"`
	Resumed    bool          `json:"resumed"`
	StartPos   string        `json:"binlog_start"`
	CatchUpPos string        `json:"catch_up_to"`
	Tables     []CopiedTable `json:"tables"`
	Rows       int64         `json:"rows"`
	Seconds    float64       `json:"seconds"`
	RowsPerS   float64       `json:"rows_per_second"`
}

type tableCopy struct {
	table   string
	lastKey []string // nil: from the start
	rows    int64
	done    bool
}

// OnlineCopy copies the selected legacy tables into openGauss online and leaves the
// forward stream ready to catch up (xckit cdc run). Run it again after a crash: it
// resumes each table after its last committed chunk.
func OnlineCopy(ctx context.Context, o OnlineCopyOptions) (OnlineCopyReport, error) {
	rep := OnlineCopyReport{Slot: o.Slot}
	if err := o.defaults(); err != nil {
		return rep, err
	}
	start := time.Now()
	release, err := LockSlot(ctx, o.To, o.Slot)
	if err != nil {
		return rep, err
	}
	defer release()
	plan, resumed, err := o.plan(ctx)
	if err != nil {
		return rep, err
	}
	rep.Resumed = resumed
	if cp, ok, err := NewSink(o.To, o.Slot).Checkpoint(ctx); err == nil && ok {
		rep.StartPos = DescribePosition(ctx, o.From, cp.LSN)
	}
	lim := newLimiter(o.MaxRowsPerSecond)
	errs := make([]error, len(plan))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = o.copyTable(ctx, plan[i], lim)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("online copy stopped (run it again to resume after the last committed chunk): %w", err)
	}
	end, err := o.finish(ctx)
	if err != nil {
		return rep, err
	}
	rep.CatchUpPos = end.String()
	for _, t := range plan {
		seqs, err := moveSequences(ctx, o.To, t.table)
		if err != nil {
			return rep, err
		}
		// A bulk load leaves the planner's statistics empty until autovacuum comes
		// by: the bounded verify's index on created_at/updated_at would go unused.
		if _, err := o.To.ExecContext(ctx, "ANALYZE "+o.To.Dialect.QuoteIdent(t.table)); err != nil {
			return rep, fmt.Errorf("target: ANALYZE %s after the copy: %w", t.table, err)
		}
		rep.Tables = append(rep.Tables, CopiedTable{Table: t.table, Rows: t.rows, Sequences: seqs})
		rep.Rows += t.rows
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerS = float64(rep.Rows) / rep.Seconds
	}
	return rep, nil
}

func (o *OnlineCopyOptions) defaults() error {
	if !IsForward(o.From) || o.To.Dialect.Family() != dbx.FamilyPostgres {
		return fmt.Errorf("an online copy reads MySQL/MariaDB (with its binary log) into openGauss, not %s into %s: use xckit cdc copy", o.From.Dialect.Name(), o.To.Dialect.Name())
	}
	if o.Slot == "" {
		o.Slot = ForwardSlot
	}
	if o.Chunk <= 0 {
		o.Chunk = 10000
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.SlowChunk <= 0 {
		o.SlowChunk = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// plan reads the progress of an unfinished copy, or starts a new one: the target's
// tables must be empty, and the binary-log position now is the stream's start.
func (o *OnlineCopyOptions) plan(ctx context.Context) ([]*tableCopy, bool, error) {
	if err := CheckBinlog(ctx, o.From); err != nil {
		return nil, false, err
	}
	tables, err := CheckTables(ctx, o.From, o.To, o.Tables)
	if err != nil {
		return nil, false, err
	}
	sink := NewSink(o.To, o.Slot)
	if err := sink.EnsureCheckpointTable(ctx); err != nil {
		return nil, false, err
	}
	if _, err := o.To.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+CopyProgressTable+
		" (slot VARCHAR(64) NOT NULL, tbl VARCHAR(128) NOT NULL, last_key TEXT, rows_copied BIGINT NOT NULL, done BOOLEAN NOT NULL, PRIMARY KEY (slot, tbl))"); err != nil {
		return nil, false, fmt.Errorf("create %s on the target: %w", CopyProgressTable, err)
	}
	plan, err := readProgress(ctx, o.To, o.Slot)
	if err != nil {
		return nil, false, err
	}
	if len(plan) > 0 {
		var had []string
		for _, t := range plan {
			had = append(had, t.table)
		}
		if strings.Join(had, ",") != strings.Join(tables, ",") {
			return nil, false, fmt.Errorf("an unfinished online copy of stream %s covers tables %s, not %s: run it again with the same --tables",
				o.Slot, strings.Join(had, ","), strings.Join(tables, ","))
		}
		return plan, true, nil
	}
	for _, t := range tables {
		var one int
		err := o.To.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM %s LIMIT 1", o.To.Dialect.QuoteIdent(t))).Scan(&one)
		if err == nil {
			return nil, false, fmt.Errorf("table %s on openGauss has rows: an online copy starts from empty tables (TRUNCATE it there if they are disposable, or use xckit cdc copy to merge)", t)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("target: %s: %w", t, err)
		}
		plan = append(plan, &tableCopy{table: t})
	}
	pos, _, err := o.From.BinlogStatus(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("source: %w", err)
	}
	startLSN, err := PosLSN(pos)
	if err != nil {
		return nil, false, err
	}
	// The start and the tables to copy, in one transaction: a crash leaves both or none.
	tx, err := o.To.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	if err := sink.setCheckpoint(ctx, tx, startLSN, 0); err != nil {
		return nil, false, err
	}
	for _, t := range plan {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+CopyProgressTable+" (slot, tbl, last_key, rows_copied, done) VALUES ($1, $2, NULL, 0, false)", o.Slot, t.table); err != nil {
			return nil, false, fmt.Errorf("target: record the copy of %s: %w", t.table, err)
		}
	}
	return plan, false, tx.Commit()
}

func readProgress(ctx context.Context, db *dbx.DB, slot string) ([]*tableCopy, error) {
	rows, err := db.QueryContext(ctx, "SELECT tbl, last_key, rows_copied, done FROM "+CopyProgressTable+" WHERE slot = $1 ORDER BY tbl", slot)
	if err != nil {
		if dbx.IsUndefinedTable(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("target: read %s: %w", CopyProgressTable, err)
	}
	defer rows.Close()
	var out []*tableCopy
	for rows.Next() {
		t := &tableCopy{}
		var key sql.NullString
		if err := rows.Scan(&t.table, &key, &t.rows, &t.done); err != nil {
			return nil, err
		}
		if key.Valid {
			if err := json.Unmarshal([]byte(key.String), &t.lastKey); err != nil {
				return nil, fmt.Errorf("target: %s: progress of %s: %w", CopyProgressTable, t.table, err)
			}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UnfinishedCopy names the tables of an online copy of slot that has not finished
// ("" when none): the forward stream must not run before it has (its catch-up point
// is written only at the end).
func UnfinishedCopy(ctx context.Context, db *dbx.DB, slot string) (string, error) {
	plan, err := readProgress(ctx, db, slot)
	if err != nil {
		return "", err
	}
	var left []string
	for _, t := range plan {
		left = append(left, t.table)
	}
	return strings.Join(left, ", "), nil
}

// finish records the catch-up point and removes the copy's progress, in one
// transaction.
func (o *OnlineCopyOptions) finish(ctx context.Context) (dbx.BinlogPos, error) {
	pos, _, err := o.From.BinlogStatus(ctx)
	if err != nil {
		return pos, fmt.Errorf("source: %w", err)
	}
	end, err := PosLSN(pos)
	if err != nil {
		return pos, err
	}
	tx, err := o.To.BeginTx(ctx, nil)
	if err != nil {
		return pos, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE "+CheckpointTable+" SET catchup_lsn = $1 WHERE slot = $2", end.String(), o.Slot); err != nil {
		return pos, fmt.Errorf("target: record the catch-up point: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+CopyProgressTable+" WHERE slot = $1", o.Slot); err != nil {
		return pos, err
	}
	return pos, tx.Commit()
}
