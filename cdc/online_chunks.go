package cdc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xckit/xckit/internal/dbx"
)

// chunk is one primary-key range of a table read from the source.
type chunk struct {
	rows    [][]any
	lastKey []string
	err     error
}

// copyTable copies one table chunk by chunk, reading the next chunk while the last
// one is written.
func (o *OnlineCopyOptions) copyTable(ctx context.Context, t *tableCopy, lim *limiter) error {
	if t.done {
		return nil
	}
	cols, err := sourceColumns(ctx, o.From, t.table)
	if err != nil {
		return err
	}
	pk, err := PrimaryKey(ctx, o.From, t.table)
	if err != nil {
		return err
	}
	dstTypes, err := columnTypes(ctx, o.To, t.table)
	if err != nil {
		return err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		if _, ok := dstTypes[c.Name]; !ok {
			return fmt.Errorf("table %s: column %s is not on openGauss", t.table, c.Name)
		}
	}
	relax, err := hasForeignKeys(ctx, o.To, t.table)
	if err != nil {
		return err
	}
	pr := TableProgress{Table: t.table, Rows: t.rows, Before: t.rows, Estimate: estimateRows(ctx, o.From, t.table), Started: time.Now()}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 2)
	go o.readChunks(cctx, t, cols, pk, chunks)
	for ch := range chunks {
		if ch.err != nil {
			return fmt.Errorf("table %s: read after key %v: %w", t.table, t.lastKey, ch.err)
		}
		for i, r := range ch.rows {
			for j, v := range r {
				if r[j], err = copyValue(v, cols[j], dstTypes[names[j]]); err != nil {
					return fmt.Errorf("table %s row with key %s: column %s: %w", t.table, keyText(cols, pk, ch.rows[i]), names[j], err)
				}
			}
		}
		lim.wait(ctx, len(ch.rows))
		began := time.Now()
		if err := o.writeChunk(ctx, t, names, ch, relax); err != nil {
			return fmt.Errorf("table %s: write the chunk after key %v: %w", t.table, t.lastKey, err)
		}
		t.lastKey, t.rows = ch.lastKey, t.rows+int64(len(ch.rows))
		pr.Rows = t.rows
		if o.Progress != nil {
			o.Progress(pr)
		}
		if took := time.Since(began); took > o.SlowChunk {
			o.Log.Info("online copy: the target is slow, pausing", "table", t.table, "chunk_seconds", took.Seconds())
			select {
			case <-ctx.Done():
			case <-time.After(took):
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := o.To.ExecContext(ctx, "UPDATE "+CopyProgressTable+" SET done = true WHERE slot = $1 AND tbl = $2", o.Slot, t.table); err != nil {
		return fmt.Errorf("table %s: mark it copied: %w", t.table, err)
	}
	t.done, pr.Done = true, true
	if o.Progress != nil {
		o.Progress(pr)
	}
	return nil
}

// readChunks reads the table in key order after t.lastKey, one chunk per query (each
// its own short read: no long-running snapshot holds the legacy database back).
func (o *OnlineCopyOptions) readChunks(ctx context.Context, t *tableCopy, cols []srcColumn, pk []string, out chan<- chunk) {
	defer close(out)
	d := o.From.Dialect
	sel := make([]string, len(cols))
	keyIdx := make([]int, len(pk))
	for i, c := range cols {
		sel[i] = d.QuoteIdent(c.Name)
		for k, p := range pk {
			if p == c.Name {
				keyIdx[k] = i
			}
		}
	}
	qk := make([]string, len(pk))
	for i, k := range pk {
		qk[i] = d.QuoteIdent(k)
	}
	keyList := strings.Join(qk, ", ")
	last := t.lastKey
	for {
		q := fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), d.QuoteIdent(t.table))
		var args []any
		if last != nil {
			q += fmt.Sprintf(" WHERE (%s) > (%s)", keyList, d.Placeholders(1, len(pk)))
			for _, k := range last {
				args = append(args, k)
			}
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT %d", keyList, o.Chunk)
		rows, err := readRows(ctx, o.From, q, args, len(cols))
		if err != nil {
			out <- chunk{err: err}
			return
		}
		if len(rows) == 0 {
			return
		}
		key := make([]string, len(pk))
		for i, idx := range keyIdx {
			key[i] = asString(rows[len(rows)-1][idx])
		}
		select {
		case out <- chunk{rows: rows, lastKey: key}:
		case <-ctx.Done():
			return
		}
		if len(rows) < o.Chunk {
			return
		}
		last = key
	}
}

func readRows(ctx context.Context, db *dbx.DB, q string, args []any, n int) ([][]any, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// writeChunk loads a chunk with COPY and moves the table's progress, in one openGauss
// transaction.
func (o *OnlineCopyOptions) writeChunk(ctx context.Context, t *tableCopy, names []string, ch chunk, relax bool) error {
	key, err := json.Marshal(ch.lastKey)
	if err != nil {
		return err
	}
	return o.To.WithPipe(ctx, func(p *dbx.Pipe) error {
		fail := func(err error) error {
			p.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if _, err := p.Exec(ctx, "BEGIN"); err != nil {
			return err
		}
		if relax {
			if _, err := p.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				return fail(fmt.Errorf("the online copy writes rows before their foreign keys' parents and needs session_replication_role "+
					"(a SYSADMIN on openGauss): %w", err))
			}
		}
		if _, err := p.Copy(ctx, t.table, names, ch.rows); err != nil {
			return fail(err)
		}
		n, err := p.Exec(ctx, "UPDATE "+CopyProgressTable+" SET last_key = $1, rows_copied = rows_copied + $2 WHERE slot = $3 AND tbl = $4",
			string(key), len(ch.rows), o.Slot, t.table)
		if err != nil {
			return fail(err)
		}
		if n != 1 {
			return fail(fmt.Errorf("the progress row of %s is gone: another copy of stream %s ran meanwhile", t.table, o.Slot))
		}
		_, err = p.Exec(ctx, "COMMIT")
		return err
	})
}

// copyValue adapts a value the MySQL driver scanned to the openGauss column. A value
// openGauss cannot hold is an error naming it, never a substitute.
func copyValue(v any, c srcColumn, dstType string) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		if dstType == "bytea" {
			if c.DataType == "binary" && int64(len(x)) < c.CharLen {
				x = append(x, make([]byte, c.CharLen-int64(len(x)))...)
			}
			return x, nil
		}
		if !utf8.Valid(x) {
			return nil, fmt.Errorf("the value is not UTF-8 text: convert the column to utf8mb4 on the source")
		}
		return string(x), nil
	case time.Time:
		if x.IsZero() {
			return nil, fmt.Errorf("a zero date has no openGauss value: set the row's date on the source (or NULL it), then run the copy again")
		}
		return x.UTC(), nil
	}
	return convertFor(v, strings.ToUpper(c.DataType), dstType), nil
}

func keyText(cols []srcColumn, pk []string, row []any) string {
	var parts []string
	for i, c := range cols {
		if contains(pk, c.Name) {
			parts = append(parts, c.Name+"="+asString(row[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// estimateRows is the source's estimate of a table's rows (0 when unknown).
func estimateRows(ctx context.Context, db *dbx.DB, table string) int64 {
	var n sql.NullInt64
	db.QueryRowContext(ctx, "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n)
	return n.Int64
}

// hasForeignKeys reports whether the openGauss table has foreign keys.
func hasForeignKeys(ctx context.Context, db *dbx.DB, table string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.table_constraints
		WHERE constraint_type = 'FOREIGN KEY' AND table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("target: foreign keys of %s: %w", table, err)
	}
	return n > 0, nil
}

// limiter spaces chunks so that all tables together stay under a rate.
type limiter struct {
	mu   sync.Mutex
	rate float64
	next time.Time
}

func newLimiter(perSecond int) *limiter { return &limiter{rate: float64(perSecond)} }

func (l *limiter) wait(ctx context.Context, rows int) {
	if l.rate <= 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(time.Duration(float64(rows) / l.rate * float64(time.Second)))
	l.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(at)):
	}
}
