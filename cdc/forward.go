package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// ForwardSlot is the default name of the forward stream (its checkpoint row).
const ForwardSlot = "xckit_forward"

// SourcePosition is the source's current position: its WAL write position (reverse),
// or its binary-log position as an LSN (forward).
func SourcePosition(ctx context.Context, db *dbx.DB) (LSN, error) {
	if !IsForward(db) {
		return CurrentLSN(ctx, db)
	}
	p, _, err := db.BinlogStatus(ctx)
	if err != nil {
		return 0, err
	}
	return PosLSN(p)
}

// DescribePosition prints a position as its source names it (X/Y, or file:offset).
func DescribePosition(ctx context.Context, db *dbx.DB, l LSN) string {
	if !IsForward(db) {
		return l.String()
	}
	p, _, err := db.BinlogStatus(ctx)
	if err != nil {
		return l.String()
	}
	return LSNPos(l, binlogBase(p.File)).String()
}

// ForwardPlugin is what status shows as the "plugin" of a forward stream.
const ForwardPlugin = "binlog"

// IsForward reports whether a stream from source is forward CDC (the legacy
// database's binary log into openGauss) rather than reverse (openGauss's logical
// decoding into the legacy database).
func IsForward(source *dbx.DB) bool { return source.Dialect.Family() == dbx.FamilyMySQL }

// CheckBinlog checks that the source writes a binary log forward CDC can read: on,
// ROW format, full row images. Each problem names the setting and how to set it.
func CheckBinlog(ctx context.Context, db *dbx.DB) error {
	var problems []error
	for _, want := range []struct{ name, value, why string }{
		{"log_bin", "ON", "the binary log must be on (log-bin in my.cnf, then restart)"},
		{"binlog_format", "ROW", "row events carry the rows; statements cannot be applied safely"},
		{"binlog_row_image", "FULL", "an update must carry the whole row"},
	} {
		got, err := db.Setting(ctx, want.name)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if !strings.EqualFold(got, want.value) {
			problems = append(problems, fmt.Errorf("source: %s is %s, forward CDC needs %s (%s): %s", want.name, got, want.value, want.why,
				db.Dialect.SetParameterHint(want.name, want.value)))
		}
	}
	return errors.Join(problems...)
}

// initForward is Init for forward CDC: check the binary log and both sides' tables,
// create the checkpoint table on openGauss and, when there is none, a checkpoint at the
// source's current position. Every change committed after it is replicated; the rows
// before it come from an online copy (xckit cdc copy --online), which sets its own
// starting point.
func initForward(ctx context.Context, o InitOptions) (InitResult, error) {
	res := InitResult{Slot: o.Slot, Plugin: ForwardPlugin}
	if err := CheckBinlog(ctx, o.Source); err != nil {
		return res, err
	}
	if o.CreateTables {
		created, err := createGaussTables(ctx, o.Source, o.Target, o.Tables)
		res.Created = created
		if err != nil {
			return res, err
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
	cp, ok, err := sink.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	pos, _, err := o.Source.BinlogStatus(ctx)
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	base := binlogBase(pos.File)
	if ok {
		res.StartLSN = LSNPos(cp.LSN, base).String()
		res.Checkpoint = res.StartLSN
		return res, nil
	}
	start, err := PosLSN(pos)
	if err != nil {
		return res, err
	}
	if err := sink.SetCheckpoint(ctx, start, 0); err != nil {
		return res, err
	}
	res.SlotMade, res.StartLSN, res.Checkpoint = true, pos.String(), pos.String()
	return res, nil
}

// SetCheckpoint (re)starts the slot's stream at lsn, with catchUp as the online
// copy's consistency point (0: none), and forgets the caught-up position.
func (s *Sink) SetCheckpoint(ctx context.Context, lsn, catchUp LSN) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.setCheckpoint(ctx, tx, lsn, catchUp); err != nil {
		return err
	}
	return tx.Commit()
}

// setCheckpoint is SetCheckpoint inside the caller's transaction.
func (s *Sink) setCheckpoint(ctx context.Context, tx *sql.Tx, lsn, catchUp LSN) error {
	if err := s.writeCheckpoint(ctx, tx, nil, lsn, time.Time{}, ""); err != nil {
		return err
	}
	d := s.db.Dialect
	var c any
	if catchUp > 0 {
		c = catchUp.String()
	}
	q := fmt.Sprintf("UPDATE %s SET catchup_lsn = %s, seen_lsn = NULL, seen_at = NULL WHERE slot = %s", CheckpointTable, d.Placeholder(1), d.Placeholder(2))
	if _, err := tx.ExecContext(ctx, q, c, s.slot); err != nil {
		return fmt.Errorf("target: checkpoint of %s: %w", s.slot, err)
	}
	return nil
}

// forwardStatus is GetStatus for forward CDC: positions are binary-log positions,
// "active" is whether a run holds the slot's lock on the target, and the lag in
// bytes counts the binary logs between the caught-up position and the source's.
func forwardStatus(ctx context.Context, source, target *dbx.DB, slot string) (Status, error) {
	st := Status{Slot: slot, Plugin: ForwardPlugin}
	pos, _, err := source.BinlogStatus(ctx)
	if err != nil {
		return st, fmt.Errorf("source: %w", err)
	}
	base := binlogBase(pos.File)
	if _, err := PosLSN(pos); err != nil {
		return st, err
	}
	st.SourceLSN = pos.String()
	cp, ok, err := NewSink(target, slot).Checkpoint(ctx)
	if err != nil {
		return st, err
	}
	if !ok {
		return st, fmt.Errorf("target has no checkpoint for forward stream %s: run xckit cdc init (or cdc copy --online)", slot)
	}
	if release, free, err := target.Lock(ctx, "xckit_cdc_"+slot, 0); err == nil {
		st.Active = !free
		if free {
			release()
		}
	}
	st.AppliedLSN, st.LastCommit, st.AppliedAt = LSNPos(cp.LSN, base).String(), cp.CommitTime, cp.AppliedAt
	st.ConfirmedLSN = st.AppliedLSN // nothing is kept on the source for the reader
	caught := max(cp.SeenLSN, cp.LSN)
	st.CaughtUpLSN = LSNPos(caught, base).String()
	files, err := source.BinlogFiles(ctx)
	if err != nil {
		return st, fmt.Errorf("source: %w", err)
	}
	bytes, have := binlogDistance(files, LSNPos(caught, base), pos)
	if !have {
		return st, fmt.Errorf("the source no longer has binary log %s, where forward CDC stands (%s): changes were purged before they were applied. "+
			"Copy again (xckit cdc copy --online) and keep binary logs longer than the longest stop (binlog_expire_logs_seconds)", LSNPos(caught, base).File, st.CaughtUpLSN)
	}
	st.LagBytes, st.RetainedBytes = bytes, bytes
	st.LagSeconds = lagSeconds(cp, time.Now())
	if cp.CatchUpLSN > caught {
		st.CatchUpLSN = LSNPos(cp.CatchUpLSN, base).String()
	}
	return st, nil
}

// binlogDistance is the number of binary-log bytes from a to b, and whether the
// source still has the file a is in.
func binlogDistance(files []dbx.BinlogPos, a, b dbx.BinlogPos) (int64, bool) {
	if a.File == b.File {
		return max(0, int64(b.Pos)-int64(a.Pos)), true
	}
	var n int64
	in, found := false, false
	for _, f := range files {
		switch {
		case f.File == a.File:
			in, found = true, true
			n += max(0, int64(f.Pos)-int64(a.Pos))
		case f.File == b.File:
			n += int64(b.Pos)
			in = false
		case in:
			n += int64(f.Pos)
		}
	}
	return n, found
}

// createGaussTables creates on openGauss the source tables it lacks, with the
// mapped types (typemap.go) and the same primary key.
func createGaussTables(ctx context.Context, source, target *dbx.DB, patterns []string) ([]string, error) {
	src, err := Tables(ctx, source, patterns)
	if err != nil {
		return nil, err
	}
	have, err := Tables(ctx, target, nil)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	var made []string
	for _, t := range src {
		if contains(have, t) {
			continue
		}
		ddl, err := GaussTableDDL(ctx, source, target.Dialect, t)
		if err != nil {
			return made, err
		}
		if _, err := target.ExecContext(ctx, ddl); err != nil {
			return made, fmt.Errorf("create %s on openGauss: %w", t, err)
		}
		made = append(made, t)
	}
	return made, nil
}

// GaussTableDDL is the CREATE TABLE that holds a MySQL/MariaDB table on openGauss.
func GaussTableDDL(ctx context.Context, source *dbx.DB, d dbx.Dialect, table string) (string, error) {
	cols, err := sourceColumns(ctx, source, table)
	if err != nil {
		return "", err
	}
	pk, err := PrimaryKey(ctx, source, table)
	if err != nil {
		return "", err
	}
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		t, err := c.GaussType()
		if err != nil {
			return "", fmt.Errorf("table %s: %w", table, err)
		}
		null := " NOT NULL"
		if c.Nullable {
			null = ""
		}
		defs = append(defs, d.QuoteIdent(c.Name)+" "+t+null)
	}
	keys := make([]string, len(pk))
	for i, k := range pk {
		keys[i] = d.QuoteIdent(k)
	}
	defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	uniq, err := sourceUniqueKeys(ctx, source, table)
	if err != nil {
		return "", err
	}
	for _, u := range uniq {
		q := make([]string, len(u))
		for i, c := range u {
			q[i] = d.QuoteIdent(c)
		}
		defs = append(defs, "UNIQUE ("+strings.Join(q, ", ")+")")
	}
	return fmt.Sprintf("CREATE TABLE %s (\n  %s\n)", d.QuoteIdent(table), strings.Join(defs, ",\n  ")), nil
}

// sourceUniqueKeys lists a MySQL table's unique keys other than the primary key, each
// as its columns in order.
func sourceUniqueKeys(ctx context.Context, db *dbx.DB, table string) ([][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT index_name, column_name FROM information_schema.statistics
		WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0 AND index_name <> 'PRIMARY' ORDER BY index_name, seq_in_index`, table)
	if err != nil {
		return nil, fmt.Errorf("unique keys of %s: %w", table, err)
	}
	defer rows.Close()
	var out [][]string
	last := ""
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return nil, err
		}
		if idx != last || len(out) == 0 {
			out = append(out, nil)
			last = idx
		}
		out[len(out)-1] = append(out[len(out)-1], col)
	}
	return out, rows.Err()
}
