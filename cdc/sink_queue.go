package cdc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/xckit/xckit/internal/dbx"
)

// stmtQueue gathers an apply's statements that need no answer (upserts, the
// checkpoint) and sends them together: on the MySQL family several in one Exec (dbx's
// MultiStatements), on the PostgreSQL family one pipelined batch (dbx.Pipe); one
// round trip where there were as many as statements. Order is
// kept: anything that needs an answer (a delete that must find its row, an update by
// key) sends the queue first.
type stmtQueue struct {
	sql   []string
	args  []any
	stmts []dbx.Stmt // the same, for a pipe (each statement with its own arguments)
	bytes int
	// grouped: the batch is applied table by table (groupable).
	grouped bool
}

// Sizes of one Exec: well under max_allowed_packet (MariaDB's and MySQL's default
// is 16 MiB, 4 MiB in old servers).
const (
	maxQueueStmts = 256
	maxQueueBytes = 1 << 20
)

// queueError is a failure of statements sent together: which one failed is not
// known, and the apply is done again one statement at a time to name it.
type queueError struct{ err error }

func (e *queueError) Error() string { return e.err.Error() }
func (e *queueError) Unwrap() error { return e.err }

// add queues a statement, sending the queue first when it is full.
func (q *stmtQueue) add(ctx context.Context, tx execer, query string, args []any) error {
	size := len(query)
	for _, a := range args {
		switch v := a.(type) {
		case string:
			size += len(v)
		case []byte:
			size += 2 * len(v)
		default:
			size += 24
		}
	}
	if len(q.sql) > 0 && (len(q.sql) >= maxQueueStmts || q.bytes+size > maxQueueBytes) {
		if err := q.flush(ctx, tx); err != nil {
			return err
		}
	}
	q.sql, q.args, q.bytes = append(q.sql, query), append(q.args, args...), q.bytes+size
	q.stmts = append(q.stmts, dbx.Stmt{SQL: query, Args: args})
	return nil
}

// flush sends what is queued (nothing on a nil queue).
func (q *stmtQueue) flush(ctx context.Context, tx execer) error {
	if q == nil || len(q.sql) == 0 {
		return nil
	}
	n := len(q.sql)
	defer func() { q.sql, q.args, q.stmts, q.bytes = q.sql[:0], q.args[:0], q.stmts[:0], 0 }()
	if p, ok := tx.(pipeTx); ok {
		_, errs := p.p.Batch(ctx, q.stmts...)
		for _, err := range errs {
			if err != nil {
				return &queueError{fmt.Errorf("one of %d statements sent together: %w", n, err)}
			}
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, strings.Join(q.sql, ";\n"), q.args...); err != nil {
		return &queueError{fmt.Errorf("one of %d statements sent together: %w", n, err)}
	}
	return nil
}

// execer runs one statement in the apply's transaction: a *sql.Tx, or pipeTx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pipeTx is a pipe's connection inside the transaction the apply began on it: a
// statement alone is a batch of one; a queue goes out as one batch.
type pipeTx struct{ p *dbx.Pipe }

func (t pipeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	rows, errs := t.p.Batch(ctx, dbx.Stmt{SQL: query, Args: args})
	if errs[0] != nil {
		return nil, errs[0]
	}
	return affected(rows[0]), nil
}

// affected is a statement's result on a pipe: the rows it touched.
type affected int64

func (a affected) LastInsertId() (int64, error) { return 0, errors.New("no insert id on a pipe") }
func (a affected) RowsAffected() (int64, error) { return int64(a), nil }

// exec runs a statement that needs no answer: queued when there is a queue.
func (q *stmtQueue) exec(ctx context.Context, tx execer, query string, args []any) error {
	if q != nil {
		return q.add(ctx, tx, query, args)
	}
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// multi is the pool the MySQL-family apply sends its queues on (opened once).
func (s *Sink) multi(ctx context.Context) (*dbx.DB, error) {
	if s.multiDB == nil {
		db, err := dbx.OpenDSN(ctx, s.db.DSN, dbx.Options{MultiStatements: true, AppName: "xckit-cdc"})
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		s.multiDB = db
	}
	return s.multiDB, nil
}

// Close closes the connections the sink opened itself.
func (s *Sink) Close() error {
	if s.multiDB != nil {
		return s.multiDB.Close()
	}
	return nil
}

// groupable says whether a MySQL-family batch may be applied table by table: every
// table's only unique index is its primary key, and no transaction is before an
// online copy's catch-up point. Then, within the batch's one target transaction,
// each table's changes keep their order, each key's last image wins as before, and
// the batch ends where a source transaction ended, so that the foreign keys the
// source enforced hold at the commit: the apply runs with foreign_key_checks off,
// as statements of a table in a row make multi-row upserts where changes that
// alternate between tables (a payment, its account, the next payment) made one
// statement each.
func (s *Sink) groupable(ctx context.Context, txns []Txn) (bool, error) {
	seen := map[string]bool{}
	for _, t := range txns {
		if t.CommitLSN <= s.catchUp || t.Spooled() {
			return false, nil // (a spooled transaction is read back in its order)
		}
		for _, c := range t.Changes {
			if seen[c.Table] {
				continue
			}
			seen[c.Table] = true
			tt, err := s.table(ctx, nil, c.Table)
			if err != nil {
				return false, err
			}
			if !tt.onlyKey {
				return false, nil
			}
		}
	}
	return len(seen) > 1, nil
}

// byTable is the batch as one transaction per table, in the order the tables first
// appear, each table's changes in their order; the last keeps the commit of the last.
func byTable(txns []Txn) []Txn {
	var order []string
	by := map[string]*Txn{}
	for _, t := range txns {
		for _, c := range t.Changes {
			g := by[c.Table]
			if g == nil {
				g = &Txn{XID: t.XID, CommitLSN: t.CommitLSN, CommitTime: t.CommitTime}
				by[c.Table] = g
				order = append(order, c.Table)
			}
			g.Changes = append(g.Changes, c)
			g.XID, g.CommitLSN, g.CommitTime = t.XID, t.CommitLSN, t.CommitTime
		}
	}
	out := make([]Txn, 0, len(order)+1)
	for _, name := range order {
		out = append(out, *by[name])
	}
	if n := len(txns); n > 0 {
		last := txns[n-1]
		out = append(out, Txn{XID: last.XID, CommitLSN: last.CommitLSN, CommitTime: last.CommitTime})
	}
	return out
}
