package cdc

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/xckit/xckit/internal/dbx"
)

// PrimaryKey returns a table's primary-key columns in key order. The table is in the
// DSN's database (MySQL) or the search path's first schema (PostgreSQL family).
func PrimaryKey(ctx context.Context, db *dbx.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, db.Dialect.PrimaryKeySQL(), table)
	if err != nil {
		return nil, fmt.Errorf("primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var pk []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		pk = append(pk, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(pk) == 0 {
		return nil, fmt.Errorf("table %s has no primary key on %s (or does not exist): CDC and verify need one", table, db.Dialect.Name())
	}
	return pk, nil
}

// Tables lists the base tables of the DSN's database (MySQL) or current schema,
// matching the patterns (path.Match globs; none = all), without xckit's own tables and
// the schema version table.
func Tables(ctx context.Context, db *dbx.DB, patterns []string) ([]string, error) {
	rows, err := db.QueryContext(ctx, db.Dialect.TablesSQL())
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		if Selected(t, patterns) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// Selected reports whether a table takes part: xckit's own tables (xckit_) and the
// platform's bookkeeping (xc_: schema version, nonces) never do; otherwise it must
// match a pattern (none = all).
func Selected(table string, patterns []string) bool {
	name := table[strings.LastIndex(table, ".")+1:] // decoded changes name the schema too
	if strings.HasPrefix(name, "xckit_") || strings.HasPrefix(name, "xc_") {
		return false
	}
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, table); ok {
			return true
		}
	}
	return false
}
