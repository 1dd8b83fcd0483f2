package cdc

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// CopyOptions drive an initial load between two databases, in either direction.
type CopyOptions struct {
	From, To *dbx.DB
	Tables   []string // patterns; none = all
	Chunk    int      // rows per read and per target transaction (default 5000)
	Parallel int      // tables copied at once (default 2)
}

// CopyReport is what was copied.
type CopyReport struct {
	Tables   []CopiedTable `json:"tables"`
	Rows     int64         `json:"rows"`
	Seconds  float64       `json:"seconds"`
	RowsPerS float64       `json:"rows_per_second"`
}

// CopiedTable is one table's copy.
type CopiedTable struct {
	Table     string   `json:"table"`
	Rows      int64    `json:"rows"`
	Sequences []string `json:"sequences_moved,omitempty"`
}

// Copy loads every selected table from From into To in primary-key order, in chunks,
// with upserts (so an interrupted copy can simply be run again), then moves the
// target's sequences and AUTO_INCREMENT counters past the copied keys so that the
// first new row there cannot collide.
func Copy(ctx context.Context, o CopyOptions) (CopyReport, error) {
	if o.Chunk <= 0 {
		o.Chunk = 5000
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	start := time.Now()
	tables, err := CheckTables(ctx, o.From, o.To, o.Tables)
	if err != nil {
		return CopyReport{}, err
	}
	levels, err := fkLevels(ctx, o.To, tables)
	if err != nil {
		return CopyReport{}, err
	}
	var rep CopyReport
	// Parents before children (foreign keys on the target); a level's tables in parallel.
	for _, level := range levels {
		done := make([]CopiedTable, len(level))
		errs := make([]error, len(level))
		sem := make(chan struct{}, o.Parallel)
		var wg sync.WaitGroup
		for i, t := range level {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				done[i], errs[i] = copyTable(ctx, o, t)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return rep, fmt.Errorf("copy %s: %w", level[i], err)
			}
			rep.Rows += done[i].Rows
		}
		rep.Tables = append(rep.Tables, done...)
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerS = float64(rep.Rows) / rep.Seconds
	}
	return rep, nil
}

func copyTable(ctx context.Context, o CopyOptions, table string) (CopiedTable, error) {
	ct := CopiedTable{Table: table}
	pk, err := PrimaryKey(ctx, o.From, table)
	if err != nil {
		return ct, err
	}
	cols, err := columns(ctx, o.From, table)
	if err != nil {
		return ct, err
	}
	targetTypes, err := columnTypes(ctx, o.To, table)
	if err != nil {
		return ct, err
	}
	fixed, err := fixedColumns(ctx, o.To, table, pk)
	if err != nil {
		return ct, err
	}
	names := make([]string, len(cols))
	textKey := map[string]bool{}
	for i, c := range cols {
		names[i] = c.name
		textKey[c.name] = c.textKey
		if _, ok := targetTypes[c.name]; !ok {
			return ct, fmt.Errorf("column %s is not on the target", c.name)
		}
	}
	rows, err := orderedScan(ctx, o.From, table, names, pk, textKey, nil)
	if err != nil {
		return ct, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return ct, err
	}
	var batch [][]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := upsertRows(ctx, o.To, table, names, pk, fixed, batch)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return ct, err
		}
		for i, v := range vals {
			vals[i] = convertFor(v, types[i].DatabaseTypeName(), targetTypes[names[i]])
		}
		batch = append(batch, vals)
		ct.Rows++
		if len(batch) >= o.Chunk {
			if err := flush(); err != nil {
				return ct, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return ct, err
	}
	if err := flush(); err != nil {
		return ct, err
	}
	ct.Sequences, err = moveSequences(ctx, o.To, table)
	return ct, err
}

// convertFor adapts a value scanned from one engine to the other's column type.
func convertFor(v any, srcType, dstType string) any {
	switch x := v.(type) {
	case []byte:
		if strings.Contains(srcType, "BLOB") || strings.Contains(srcType, "BINARY") || srcType == "BYTEA" || dstType == "bytea" {
			return x
		}
		return string(x)
	case int64:
		if dstType == "boolean" {
			return x != 0
		}
	case bool:
		if dstType != "boolean" {
			if x {
				return int64(1)
			}
			return int64(0)
		}
	case time.Time:
		return x.UTC()
	}
	return v
}

func columnTypes(ctx context.Context, db *dbx.DB, table string) (map[string]string, error) {
	cols, err := columns(ctx, db, table)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cols))
	for _, c := range cols {
		out[c.name] = c.typ
	}
	return out, nil
}

// fixedColumns are the columns an upsert into table never sets: its primary key, and
// on openGauss every column of a unique index too (its ON DUPLICATE KEY UPDATE refuses
// them). A unique value that changed on the source is then left as it was: verify
// names the row.
func fixedColumns(ctx context.Context, db *dbx.DB, table string, pk []string) ([]string, error) {
	if db.Dialect.Engine != dbx.OpenGauss {
		return pk, nil
	}
	uniq, err := db.Strings(ctx, db.Dialect.UniqueColumnsSQL(), table)
	if err != nil {
		return nil, fmt.Errorf("the unique columns of %s: %w", table, err)
	}
	out := append([]string(nil), pk...)
	for _, c := range uniq {
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// upsertStatement builds one multi-row INSERT that updates rows whose key exists, in
// the dialect's form (ON CONFLICT, or ON DUPLICATE KEY UPDATE on openGauss and MySQL);
// fixed columns (fixedColumns) are never set.
func upsertStatement(d dbx.Dialect, table string, cols, pk, fixed []string, rows [][]any) (string, []any) {
	quoted := make([]string, len(cols))
	var nonKey []string
	for i, c := range cols {
		quoted[i] = d.QuoteIdent(c)
		if !contains(pk, c) && !contains(fixed, c) {
			nonKey = append(nonKey, c)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", d.QuoteIdent(table), strings.Join(quoted, ", "))
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + d.Placeholders(len(args)+1, len(r)) + ")")
		args = append(args, r...)
	}
	b.WriteString(" " + d.UpsertClause(pk, nonKey))
	return b.String(), args
}

// upsertRows writes rows in one transaction with multi-row upserts of up to 500 rows.
func upsertRows(ctx context.Context, db *dbx.DB, table string, cols, pk, fixed []string, rows [][]any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for start := 0; start < len(rows); start += 500 {
		part := rows[start:min(start+500, len(rows))]
		q, args := upsertStatement(db.Dialect, table, cols, pk, fixed, part)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("write rows %d-%d of the chunk: %w", start+1, start+len(part), err)
		}
	}
	return tx.Commit()
}

var nextval = regexp.MustCompile(`nextval\('([^']+)'`)

// moveSequences sets the target's sequences (PostgreSQL family) or AUTO_INCREMENT
// (MySQL) past the largest copied value.
func moveSequences(ctx context.Context, db *dbx.DB, table string) ([]string, error) {
	var moved []string
	if db.Dialect.Family() == dbx.FamilyMySQL {
		var col string
		err := db.QueryRowContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND extra LIKE '%auto_increment%'", table).Scan(&col)
		if err == sql.ErrNoRows {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var next int64
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT COALESCE(MAX(`%s`), 0) + 1 FROM `%s`", col, table)).Scan(&next); err != nil {
			return nil, err
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE `%s` AUTO_INCREMENT = %d", table, next)); err != nil {
			return nil, fmt.Errorf("move AUTO_INCREMENT of %s: %w", table, err)
		}
		return []string{fmt.Sprintf("%s.%s AUTO_INCREMENT=%d", table, col, next)}, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT column_name, column_default FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_default LIKE 'nextval(%'", table)
	if err != nil {
		return nil, err
	}
	type seq struct{ col, name string }
	var seqs []seq
	for rows.Next() {
		var col, def string
		if err := rows.Scan(&col, &def); err != nil {
			rows.Close()
			return nil, err
		}
		if m := nextval.FindStringSubmatch(def); m != nil {
			seqs = append(seqs, seq{col, m[1]})
		}
	}
	rows.Close()
	for _, s := range seqs {
		q := fmt.Sprintf("SELECT setval('%s', GREATEST((SELECT COALESCE(MAX(%s), 0) FROM %s), 1))", s.name, db.Dialect.QuoteIdent(s.col), db.Dialect.QuoteIdent(table))
		var v int64
		if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
			return moved, fmt.Errorf("move sequence %s: %w", s.name, err)
		}
		moved = append(moved, fmt.Sprintf("%s=%d", s.name, v))
	}
	return moved, nil
}

// fkLevels orders tables so that every table comes after the tables its foreign keys
// (on db) reference; tables of one level do not depend on each other.
func fkLevels(ctx context.Context, db *dbx.DB, tables []string) ([][]string, error) {
	q := `SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc
		JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
		WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()`
	if db.Dialect.Family() == dbx.FamilyMySQL {
		q = `SELECT table_name, referenced_table_name FROM information_schema.key_column_usage
			WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	deps := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, err
		}
		if child != parent {
			deps[child] = append(deps[child], parent)
		}
	}
	rows.Close()
	placed := map[string]bool{}
	var levels [][]string
	for len(placed) < len(tables) {
		var level []string
		for _, t := range tables {
			if placed[t] {
				continue
			}
			ready := true
			for _, p := range deps[t] {
				if contains(tables, p) && !placed[p] {
					ready = false
				}
			}
			if ready {
				level = append(level, t)
			}
		}
		if len(level) == 0 {
			return nil, fmt.Errorf("foreign keys form a cycle among the remaining tables: copy them with --tables in an order that works")
		}
		for _, t := range level {
			placed[t] = true
		}
		levels = append(levels, level)
	}
	return levels, nil
}
