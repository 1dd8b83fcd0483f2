package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/xckit/xckit/internal/dbx"
)

// CheckpointTable is the target table that records, per slot, the last source commit
// applied. It is written in the same target transaction as the data it covers.
const CheckpointTable = "xckit_cdc_checkpoint"

// ErrNotInitialised says the target has no checkpoint table: cdc init has not run.
var ErrNotInitialised = errors.New("cdc is not initialised")

// Checkpoint is the target's record of a slot.
type Checkpoint struct {
	Slot       string
	LSN        LSN       // commit LSN of the last applied source transaction
	CommitTime time.Time // of the last applied source transaction
	AppliedAt  time.Time
	// SeenLSN: every source transaction committed before this position is applied
	// (the pipeline found nothing more to read after reading it), as of SeenAt.
	SeenLSN LSN
	SeenAt  time.Time
	// SourceTxn names the last applied source transaction (its xid on openGauss, its
	// GTID on MariaDB/MySQL).
	SourceTxn string
	// CatchUpLSN: set by an online copy (forward CDC), the source position once
	// applied past which the target is consistent. Until then the copy's rows and the
	// binary log's older changes meet, so a delete may find no row and foreign keys
	// may point ahead: both are expected there, and only there.
	CatchUpLSN LSN
}

// Sink applies source transactions to the target database (MySQL/MariaDB, or the
// PostgreSQL family), with upserts for inserts and updates and deletes by primary key.
type Sink struct {
	db     *dbx.DB
	slot   string
	tables map[string]*targetTable // by target table name
	// catchUp is the checkpoint's CatchUpLSN as last read.
	catchUp LSN
	// multiDB: the target again, sending several statements per Exec (MySQL family).
	multiDB *dbx.DB
	// replayed counts the batches applied again one statement at a time.
	replayed atomic.Int64
}

// Replayed is how many batches failed as statements sent together and were applied
// again one statement at a time (to name the change that fails, or in order).
func (s *Sink) Replayed() int64 { return s.replayed.Load() }

type targetTable struct {
	name  string
	pk    []string
	fixed []string // never set by an upsert (fixedColumns)
	// onlyKey: the primary key is the table's only unique index (an upsert can meet
	// no other row than its key's, whatever the order of the batch's rows).
	onlyKey bool
}

// NewSink prepares a sink for slot on db.
func NewSink(db *dbx.DB, slot string) *Sink {
	return &Sink{db: db, slot: slot, tables: map[string]*targetTable{}}
}

// EnsureCheckpointTable creates the checkpoint table when missing.
func (s *Sink) EnsureCheckpointTable(ctx context.Context) error {
	ts := "TIMESTAMP(6) NULL"
	if s.db.Dialect.Family() == dbx.FamilyMySQL {
		ts = "DATETIME(6) NULL"
	}
	q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (slot VARCHAR(64) NOT NULL PRIMARY KEY, lsn VARCHAR(32) NOT NULL, lsn_num BIGINT NOT NULL, commit_time %s, applied_at %s, seen_lsn VARCHAR(32) NULL, seen_at %s)", CheckpointTable, ts, ts, ts)
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create %s on the target: %w", CheckpointTable, err)
	}
	// Tables made by an earlier xckit lack the caught-up columns.
	have, err := columnTypes(ctx, s.db, CheckpointTable)
	if err != nil {
		return err
	}
	for col, typ := range map[string]string{"seen_lsn": "VARCHAR(32) NULL", "seen_at": ts, "source_txn": "VARCHAR(128) NULL", "catchup_lsn": "VARCHAR(32) NULL"} {
		if _, ok := have[col]; !ok {
			if _, err := s.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", CheckpointTable, col, typ)); err != nil {
				return fmt.Errorf("upgrade %s on the target: %w", CheckpointTable, err)
			}
		}
	}
	return nil
}

// Slot is the slot whose changes the sink applies.
func (s *Sink) Slot() string { return s.slot }

// MarkSeen records that everything committed on the source before lsn is applied.
func (s *Sink) MarkSeen(ctx context.Context, lsn LSN) error {
	d := s.db.Dialect
	q := fmt.Sprintf("UPDATE %s SET seen_lsn = %s, seen_at = %s WHERE slot = %s", CheckpointTable, d.Placeholder(1), d.Placeholder(2), d.Placeholder(3))
	if _, err := s.db.ExecContext(ctx, q, lsn.String(), time.Now().UTC(), s.slot); err != nil {
		return fmt.Errorf("target: record caught-up position %s: %w", lsn, err)
	}
	return nil
}

// Checkpoint reads the slot's checkpoint; ok is false when none was written.
func (s *Sink) Checkpoint(ctx context.Context) (Checkpoint, bool, error) {
	var cp Checkpoint
	var lsn string
	var seen, txn, catchUp sql.NullString
	var ct, at, st sql.NullTime
	q := fmt.Sprintf("SELECT slot, lsn, commit_time, applied_at, seen_lsn, seen_at, source_txn, catchup_lsn FROM %s WHERE slot = %s", CheckpointTable, s.db.Dialect.Placeholder(1))
	err := s.db.QueryRowContext(ctx, q, s.slot).Scan(&cp.Slot, &lsn, &ct, &at, &seen, &st, &txn, &catchUp)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, false, nil
	}
	if dbx.IsUndefinedTable(err) {
		return cp, false, fmt.Errorf("the target has no %s table: run xckit cdc init first (it creates the slot and the checkpoint): %w", CheckpointTable, ErrNotInitialised)
	}
	if err != nil {
		return cp, false, fmt.Errorf("read checkpoint of slot %s: %w", s.slot, err)
	}
	if cp.LSN, err = ParseLSN(lsn); err != nil {
		return cp, false, fmt.Errorf("checkpoint of slot %s: %w", s.slot, err)
	}
	cp.CommitTime, cp.AppliedAt, cp.SeenAt = ct.Time, at.Time, st.Time
	if seen.Valid && seen.String != "" {
		if cp.SeenLSN, err = ParseLSN(seen.String); err != nil {
			return cp, false, fmt.Errorf("checkpoint of slot %s: %w", s.slot, err)
		}
	}
	cp.SourceTxn = txn.String
	if catchUp.Valid && catchUp.String != "" {
		if cp.CatchUpLSN, err = ParseLSN(catchUp.String); err != nil {
			return cp, false, fmt.Errorf("checkpoint of slot %s: %w", s.slot, err)
		}
	}
	s.catchUp = cp.CatchUpLSN
	return cp, true, nil
}

// Apply writes txns and the checkpoint (upTo) in one target transaction. On a MySQL
// family target the statements that need no answer go out together (stmtQueue); if
// such a group fails, the apply is done again one statement at a time, which names
// the change that failed.
func (s *Sink) Apply(ctx context.Context, txns []Txn, upTo LSN) (rows int, err error) {
	if s.db.Dialect.Family() != dbx.FamilyMySQL {
		rows, err = s.applyPiped(ctx, txns, upTo)
	} else {
		rows, err = s.applyMulti(ctx, txns, upTo)
	}
	if _, ok := errors.AsType[*queueError](err); ok && !dbx.IsTransient(err) {
		s.replayed.Add(1)
		return s.applyOnce(ctx, s.db, nil, txns, upTo)
	}
	return rows, err
}

// applyMulti is the MySQL family's apply: queues sent as multi-statement Execs, the
// batch table by table where groupable says it may be.
func (s *Sink) applyMulti(ctx context.Context, txns []Txn, upTo LSN) (int, error) {
	db, err := s.multi(ctx)
	if err != nil {
		return 0, err
	}
	q := &stmtQueue{}
	if q.grouped, err = s.groupable(ctx, txns); err != nil {
		return 0, err
	}
	return s.applyOnce(ctx, db, q, txns, upTo)
}

// applyPiped is the PostgreSQL family's apply (openGauss included): one connection
// whose queues go out as pipelined batches, one round trip each (dbx.Pipe), in the
// source's order. COMMIT goes alone, after every statement's result is known.
func (s *Sink) applyPiped(ctx context.Context, txns []Txn, upTo LSN) (rows int, err error) {
	err = s.db.WithPipe(ctx, func(p *dbx.Pipe) error {
		tx := pipeTx{p}
		if _, err := tx.ExecContext(ctx, "BEGIN"); err != nil {
			return fmt.Errorf("target: begin: %w", err)
		}
		q := &stmtQueue{}
		committed := false
		defer func() {
			if !committed {
				p.Rollback(ctx)
			}
		}()
		var err error
		if rows, err = s.applyIn(ctx, tx, q, txns, upTo); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("target: commit: %w", err)
		}
		committed = true
		return nil
	})
	return rows, err
}

func (s *Sink) applyOnce(ctx context.Context, db *dbx.DB, q *stmtQueue, txns []Txn, upTo LSN) (rows int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("target: begin: %w", err)
	}
	defer tx.Rollback()
	if q != nil {
		// The pool's sessions keep what the last apply set.
		if err := q.add(ctx, tx, fmt.Sprintf("SET foreign_key_checks = %d", map[bool]int{true: 0, false: 1}[q.grouped]), nil); err != nil {
			return 0, err
		}
		if q.grouped {
			txns = byTable(txns)
		}
	}
	if rows, err = s.applyIn(ctx, tx, q, txns, upTo); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("target: commit: %w", err)
	}
	return rows, nil
}

// applyIn writes txns and the checkpoint inside the caller's transaction tx,
// through q when there is one.
func (s *Sink) applyIn(ctx context.Context, tx execer, q *stmtQueue, txns []Txn, upTo LSN) (rows int, err error) {
	var last Txn
	run := &upsertRun{q: q}
	if len(txns) > 0 && txns[0].CommitLSN <= s.catchUp {
		if err := s.relaxForeignKeys(ctx, tx); err != nil {
			return 0, err
		}
	}
	for _, t := range txns {
		run.lenient = t.CommitLSN <= s.catchUp
		if err := t.Each(func(c Change) error {
			rows++
			return s.applyChange(ctx, tx, t, c, run)
		}); err != nil {
			return 0, err
		}
		last = t
	}
	if err := s.flush(ctx, tx, run); err != nil {
		return 0, err
	}
	if err := s.writeCheckpoint(ctx, tx, run.q, upTo, last.CommitTime, last.XID); err != nil {
		return 0, err
	}
	if err := run.q.flush(ctx, tx); err != nil {
		return 0, err
	}
	return rows, nil
}

// relaxForeignKeys lets a catch-up transaction write a child row whose parent the
// binary log brings later (PostgreSQL family: session_replication_role = replica,
// for this transaction only; it needs a SYSADMIN on openGauss).
func (s *Sink) relaxForeignKeys(ctx context.Context, tx execer) error {
	if s.db.Dialect.Family() == dbx.FamilyMySQL {
		return errors.New("an online copy's catch-up is made for an openGauss target, not MySQL")
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return fmt.Errorf("target: the catch-up after an online copy writes rows before their foreign keys' parents and needs "+
			"session_replication_role (a SYSADMIN on openGauss): give the CDC's target user SYSADMIN until the catch-up is over: %w", err)
	}
	return nil
}

func (s *Sink) writeCheckpoint(ctx context.Context, tx execer, q *stmtQueue, upTo LSN, commitTime time.Time, xid string) error {
	d := s.db.Dialect
	var ct, txn any
	if !commitTime.IsZero() {
		ct = commitTime.UTC()
	}
	if xid != "" {
		txn = xid
	}
	stmt := fmt.Sprintf("INSERT INTO %s (slot, lsn, lsn_num, commit_time, applied_at, source_txn) VALUES (%s) %s", CheckpointTable,
		d.Placeholders(1, 6), d.UpsertClause([]string{"slot"}, []string{"lsn", "lsn_num", "commit_time", "applied_at", "source_txn"}))
	if err := q.exec(ctx, tx, stmt, []any{s.slot, upTo.String(), int64(upTo), ct, time.Now().UTC(), txn}); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", upTo, err)
	}
	return nil
}

// table looks up (once) the target table and its primary key.
func (s *Sink) table(ctx context.Context, tx execer, name string) (*targetTable, error) {
	if t, ok := s.tables[name]; ok {
		return t, nil
	}
	pk, err := PrimaryKey(ctx, s.db, name)
	if err != nil {
		return nil, err
	}
	fixed, err := fixedColumns(ctx, s.db, name, pk)
	if err != nil {
		return nil, err
	}
	t := &targetTable{name: name, pk: pk, fixed: fixed}
	if s.db.Dialect.Family() == dbx.FamilyMySQL {
		uniq, err := s.db.Strings(ctx, s.db.Dialect.UniqueColumnsSQL(), name)
		if err != nil {
			return nil, fmt.Errorf("the unique columns of %s: %w", name, err)
		}
		t.onlyKey = len(uniq) == len(pk)
	}
	s.tables[name] = t
	return t, nil
}

// upsertRun gathers consecutive upserts of one table with the same columns, so that
// they go out as one multi-row statement. Order is kept: anything else (a delete, a
// key change, another table, a repeated key) flushes the run first.
type upsertRun struct {
	origin string // the first row's change, for errors
	table  *targetTable
	cols   string // the column list, as a signature
	names  []string
	rows   [][]any
	first  []Column // first row, to name its key in errors
	keys   map[string]bool
	// lenient: the transaction is before the catch-up point of an online copy, where
	// a delete may find its row not copied yet.
	lenient bool
	// q, when set, takes the statements that need no answer (stmtQueue).
	q *stmtQueue
}

const maxRunRows = 500

func (s *Sink) applyChange(ctx context.Context, tx execer, txn Txn, c Change, run *upsertRun) error {
	where := fmt.Sprintf("%s on %s at source commit %s (xid %s)", c.Kind, c.QualifiedName(), txn.CommitLSN, txn.XID)
	t, err := s.table(ctx, tx, c.Table)
	if err != nil {
		return fmt.Errorf("apply %s: %w", where, err)
	}
	err = s.applyRow(ctx, tx, t, c, run, where)
	if err != nil && !strings.HasPrefix(err.Error(), "apply ") {
		err = fmt.Errorf("apply %s: %w", where, err)
	}
	return err
}

func (s *Sink) applyRow(ctx context.Context, tx execer, t *targetTable, c Change, run *upsertRun, where string) error {
	switch c.Kind {
	case Insert, Update:
		if c.Kind == Update && len(c.Key) > 0 && keyChanged(t.pk, c.Key, c.Columns) {
			if err := s.sync(ctx, tx, run); err != nil {
				return err
			}
			if err := s.deleteKey(ctx, tx, t, c.Key, false); err != nil {
				return err
			}
		}
		names := make([]string, len(c.Columns))
		vals := make([]any, len(c.Columns))
		for i, col := range c.Columns {
			v, err := col.Value()
			if err != nil {
				return err
			}
			names[i], vals[i] = col.Name, v
		}
		if c.Kind == Update && len(t.fixed) > len(t.pk) {
			// openGauss's upsert may not set a unique column: an update of a table
			// with one is an UPDATE by key (an upsert only when the row is missing).
			if err := s.sync(ctx, tx, run); err != nil {
				return err
			}
			if done, err := s.updateRow(ctx, tx, t, names, vals); err != nil || done {
				return err
			}
		}
		sig := strings.Join(names, "\x00")
		key := keyDesc(t.pk, c.Columns)
		if run.table != t || run.cols != sig || run.keys[key] || len(run.rows) >= maxRunRows {
			if err := s.flush(ctx, tx, run); err != nil {
				return err
			}
			run.table, run.cols, run.names, run.first, run.keys, run.origin = t, sig, names, c.Columns, map[string]bool{}, where
		}
		run.rows = append(run.rows, vals)
		run.keys[key] = true
		return nil
	case Delete:
		if err := s.sync(ctx, tx, run); err != nil {
			return err
		}
		return s.deleteKey(ctx, tx, t, c.Key, !run.lenient)
	}
	return fmt.Errorf("unexpected change kind %s", c.Kind)
}

// updateRow updates the row with the key in vals, every other column set; done is
// false when there is no such row.
func (s *Sink) updateRow(ctx context.Context, tx execer, t *targetTable, names []string, vals []any) (bool, error) {
	d := s.db.Dialect
	var sets, conds []string
	var args, keyArgs []any
	for i, n := range names {
		if contains(t.pk, n) {
			keyArgs = append(keyArgs, vals[i])
			conds = append(conds, d.QuoteIdent(n))
			continue
		}
		args = append(args, vals[i])
		sets = append(sets, fmt.Sprintf("%s = %s", d.QuoteIdent(n), d.Placeholder(len(args))))
	}
	if len(sets) == 0 || len(conds) != len(t.pk) {
		return false, nil
	}
	for i, c := range conds {
		args = append(args, keyArgs[i])
		conds[i] = fmt.Sprintf("%s = %s", c, d.Placeholder(len(args)))
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", d.QuoteIdent(t.name), strings.Join(sets, ", "), strings.Join(conds, " AND ")), args...)
	if err != nil {
		return false, withKey(err, t.pk, rowColumns(names, vals))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// flush writes the gathered upserts. When the multi-row statement fails, the rows are
// written one by one so that the error names the row that cannot be applied.
func (s *Sink) flush(ctx context.Context, tx execer, run *upsertRun) error {
	if len(run.rows) == 0 {
		return nil
	}
	defer func() { run.rows, run.table = run.rows[:0], nil }()
	if err := s.writeRun(ctx, tx, run); err != nil {
		return fmt.Errorf("apply %s and following rows: %w", run.origin, err)
	}
	return nil
}

// sync writes the run and sends the queue: what comes next needs their effects.
func (s *Sink) sync(ctx context.Context, tx execer, run *upsertRun) error {
	if err := s.flush(ctx, tx, run); err != nil {
		return err
	}
	return run.q.flush(ctx, tx)
}

func (s *Sink) writeRun(ctx context.Context, tx execer, run *upsertRun) error {
	t := run.table
	stmt := func(rows [][]any) (string, []any) {
		return upsertStatement(s.db.Dialect, t.name, run.names, t.pk, t.fixed, rows)
	}
	if run.q != nil {
		// Sent with others; a failure is named by the apply done again without.
		q, args := stmt(run.rows)
		return run.q.add(ctx, tx, q, args)
	}
	if len(run.rows) == 1 {
		q, args := stmt(run.rows)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return withKey(s.nameColumn(ctx, t, run.names, run.rows[0], err), t.pk, run.first)
		}
		return nil
	}
	// A failed statement leaves a PostgreSQL transaction aborted: try the batch
	// under a savepoint so the row-by-row pass can name the culprit.
	if _, err := tx.ExecContext(ctx, "SAVEPOINT xckit_run"); err != nil {
		return err
	}
	q, args := stmt(run.rows)
	if _, err := tx.ExecContext(ctx, q, args...); err == nil {
		_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT xckit_run")
		return err
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT xckit_run"); err != nil {
		return err
	}
	for _, r := range run.rows {
		q, args := stmt([][]any{r})
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return withKey(s.nameColumn(ctx, t, run.names, r, err), t.pk, rowColumns(run.names, r))
		}
	}
	return fmt.Errorf("a batch of %d rows failed but each row alone succeeded", len(run.rows))
}

// nameColumn adds to a PostgreSQL-family error that a value is too long the columns
// whose values pass their declared length (the server's message names none).
func (s *Sink) nameColumn(ctx context.Context, t *targetTable, names []string, vals []any, err error) error {
	if !dbx.IsValueTooLong(err) {
		return err
	}
	rows, qerr := s.db.QueryContext(ctx, "SELECT column_name, character_maximum_length FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND character_maximum_length IS NOT NULL", t.name)
	if qerr != nil {
		return err
	}
	defer rows.Close()
	limit := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if rows.Scan(&name, &n) == nil {
			limit[name] = n
		}
	}
	var long []string
	for i, name := range names {
		v, ok := vals[i].(string)
		if n, has := limit[name]; ok && has && utf8.RuneCountInString(v) > n {
			long = append(long, fmt.Sprintf("column %s holds %d characters, its type allows %d", name, utf8.RuneCountInString(v), n))
		}
	}
	if len(long) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(long, "; "), err)
}

// rowColumns rebuilds named values for an error message.
func rowColumns(names []string, vals []any) []Column {
	cols := make([]Column, len(names))
	for i, n := range names {
		cols[i] = Column{Name: n, Text: fmt.Sprint(vals[i])}
	}
	return cols
}

// deleteKey deletes the row with the key's primary-key columns. A delete that finds no
// row means the target has diverged: it stops the pipeline (must=true).
func (s *Sink) deleteKey(ctx context.Context, tx execer, t *targetTable, key []Column, must bool) error {
	d := s.db.Dialect
	var conds []string
	var vals []any
	for _, k := range t.pk {
		col, ok := find(key, k)
		if !ok {
			return fmt.Errorf("the change carries no value for primary-key column %s", k)
		}
		v, err := col.Value()
		if err != nil {
			return err
		}
		conds = append(conds, fmt.Sprintf("%s = %s", d.QuoteIdent(k), d.Placeholder(len(vals)+1)))
		vals = append(vals, v)
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s", d.QuoteIdent(t.name), strings.Join(conds, " AND ")), vals...)
	if err != nil {
		return withKey(err, t.pk, key)
	}
	if n, _ := res.RowsAffected(); n == 0 && must {
		return fmt.Errorf("key (%s) has no row on the target: the target has diverged from the source; run xckit verify", keyDesc(t.pk, key))
	}
	return nil
}

func keyChanged(pk []string, oldKey, newCols []Column) bool {
	for _, k := range pk {
		o, ok1 := find(oldKey, k)
		n, ok2 := find(newCols, k)
		if ok1 && ok2 && (o.Text != n.Text || o.Null != n.Null) {
			return true
		}
	}
	return false
}

func withKey(err error, pk []string, cols []Column) error {
	return fmt.Errorf("key (%s): %w", keyDesc(pk, cols), err)
}

func keyDesc(pk []string, cols []Column) string {
	var parts []string
	for _, k := range pk {
		if c, ok := find(cols, k); ok {
			parts = append(parts, k+"="+c.Text)
		}
	}
	return strings.Join(parts, ", ")
}

func find(cols []Column, name string) (Column, bool) {
	for _, c := range cols {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
