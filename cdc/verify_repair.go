package cdc

import (
	"context"
	"fmt"
	"strings"

	"github.com/xckit/xckit/internal/dbx"
)

// ApplyRepair makes the target equal the source for every table of a report made with
// Repair: the source's rows are upserted, the target's extra rows deleted, one
// transaction per table.
func ApplyRepair(ctx context.Context, target *dbx.DB, rep VerifyReport) error {
	d := target.Dialect
	byName := map[string]TableReport{}
	var names []string
	for _, t := range rep.Tables {
		if t.repair != nil && (len(t.repair.upserts) > 0 || len(t.repair.deletes) > 0) {
			byName[t.Table] = t
			names = append(names, t.Table)
		}
	}
	levels, err := fkLevels(ctx, target, names)
	if err != nil {
		return err
	}
	// Children's extra rows go before their parents'; parents' rows are written first.
	for i := len(levels) - 1; i >= 0; i-- {
		for _, name := range levels[i] {
			t := byName[name]
			p := t.repair
			if len(p.deletes) == 0 {
				continue
			}
			tx, err := target.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			conds := make([]string, len(p.pk))
			for i, k := range p.pk {
				conds[i] = fmt.Sprintf("%s = %s", d.QuoteIdent(k), d.Placeholder(i+1))
			}
			q := fmt.Sprintf("DELETE FROM %s WHERE %s", d.QuoteIdent(t.Table), strings.Join(conds, " AND "))
			for _, key := range p.deletes {
				if _, err := tx.ExecContext(ctx, q, key...); err != nil {
					tx.Rollback()
					return fmt.Errorf("repair %s: delete: %w", t.Table, err)
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
	}
	for _, level := range levels {
		for _, name := range level {
			t := byName[name]
			p := t.repair
			if len(p.upserts) == 0 {
				continue
			}
			dstTypes, err := columnTypes(ctx, target, t.Table)
			if err != nil {
				return err
			}
			fixed, err := fixedColumns(ctx, target, t.Table, p.pk)
			if err != nil {
				return err
			}
			rows := make([][]any, len(p.upserts))
			for i, r := range p.upserts {
				row := make([]any, len(r))
				for j, v := range r {
					row[j] = convertFor(v, p.types[j], dstTypes[p.cols[j]])
				}
				rows[i] = row
			}
			if err := upsertRows(ctx, target, t.Table, p.cols, p.pk, fixed, rows); err != nil {
				return fmt.Errorf("repair %s: %w", t.Table, err)
			}
		}
	}
	return nil
}
