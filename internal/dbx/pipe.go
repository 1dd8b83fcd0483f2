package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Stmt is one statement of a pipelined batch.
type Stmt struct {
	SQL  string
	Args []any
}

// Pipe is one connection of the PostgreSQL family (openGauss included) on which
// statements go out in batches, one round trip each (the extended protocol's pipeline).
type Pipe struct{ c *pgx.Conn }

// WithPipe runs fn on a connection of the pool that it may pipeline on; the connection
// goes back to the pool afterwards (database/sql discards it if fn left it broken).
func (db *DB) WithPipe(ctx context.Context, fn func(p *Pipe) error) error {
	if db.Dialect.Family() != FamilyPostgres {
		return fmt.Errorf("pipelining needs the PostgreSQL protocol, not %s", db.Dialect.Name())
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipelining: the connection is a %T, not pgx's", dc)
		}
		return fn(&Pipe{c: sc.Conn()})
	})
}

// Batch sends the statements in one round trip and returns, for each, the rows it
// affected and its error (a statement after a failed one fails too: the server skips
// the rest of the batch's transaction).
func (p *Pipe) Batch(ctx context.Context, stmts ...Stmt) ([]int64, []error) {
	if len(stmts) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	br := p.c.SendBatch(ctx, b)
	rows := make([]int64, len(stmts))
	errs := make([]error, len(stmts))
	for i := range stmts {
		tag, err := br.Exec()
		rows[i], errs[i] = tag.RowsAffected(), err
	}
	if err := br.Close(); err != nil && errs[len(errs)-1] == nil {
		errs[len(errs)-1] = err
	}
	return rows, errs
}

// QueryRow reads one row on the pipe's connection; no row is sql.ErrNoRows.
func (p *Pipe) QueryRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := p.c.QueryRow(ctx, query, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

// Rollback ends whatever transaction the connection is in; a failed rollback leaves
// the connection broken, and database/sql then discards it.
func (p *Pipe) Rollback(ctx context.Context) { p.c.Exec(ctx, "ROLLBACK") }

// Copy loads rows into table's columns with COPY FROM STDIN (binary), on the pipe's
// connection and inside whatever transaction it is in; it returns the rows copied.
func (p *Pipe) Copy(ctx context.Context, table string, cols []string, rows [][]any) (int64, error) {
	return p.c.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
}

// Exec runs one statement on the pipe's connection.
func (p *Pipe) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.c.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}
