package cdc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// VerifyOptions say what to compare.
type VerifyOptions struct {
	Source, Target *dbx.DB
	Tables         []string // patterns; none = all
	MaxDiffs       int      // rows listed per table (counts are always complete); default 20
	// Repair collects what would make the target equal the source (ApplyRepair).
	Repair bool
	// Parallel is how many tables are compared at once (default 1).
	Parallel int
	// Progress, when set, is called now and then with rows compared so far (both sides).
	Progress func(rows int64)
	// Since limits the comparison to rows whose SinceColumns (the first a table has;
	// default updated_at, then created_at) are at or after it. Tables without such a
	// column are compared whole.
	Since        time.Time
	SinceColumns []string
	// Disposable, when set, says which of the target's extra rows a repair may delete
	// (cols are the column names, row the canonical values). The others are counted in
	// Protected and listed in ProtectedKeys (with or without Repair), and a repair keeps
	// them: a cutover must never delete a row it cannot prove is test traffic.
	Disposable func(table string, cols, row []string) bool
}

// MaxRepairRows bounds --repair: beyond it, reload the table with cdc copy.
const MaxRepairRows = 100_000

// Diff is one row that differs.
type Diff struct {
	Kind    string   `json:"kind"` // missing (on the target), extra (on the target), different
	Key     string   `json:"key"`
	Columns []string `json:"columns,omitempty"` // for different: which
}

// TableReport is one table's comparison.
type TableReport struct {
	Table      string `json:"table"`
	SourceRows int64  `json:"source_rows"`
	TargetRows int64  `json:"target_rows"`
	Missing    int64  `json:"missing"`
	Extra      int64  `json:"extra"`
	Different  int64  `json:"different"`
	Diffs      []Diff `json:"diffs,omitempty"`
	// With Repair: rows to write from the source (missing, different) and keys to
	// delete from the target (extra).
	Upserts int `json:"repair_upserts,omitempty"`
	Deletes int `json:"repair_deletes,omitempty"`
	// Protected are extra rows the repair keeps (VerifyOptions.Disposable said no).
	Protected     int64    `json:"protected,omitempty"`
	ProtectedKeys []string `json:"protected_keys,omitempty"`

	repair *repairPlan
}

type repairPlan struct {
	cols, pk []string
	upserts  [][]any
	deletes  [][]any // primary-key values
	types    []string
}

// Equal reports whether the table matched.
func (t TableReport) Equal() bool { return t.Missing == 0 && t.Extra == 0 && t.Different == 0 }

// VerifyReport is the whole comparison.
type VerifyReport struct {
	Tables   []TableReport `json:"tables"`
	Rows     int64         `json:"rows_compared"`
	Seconds  float64       `json:"seconds"`
	RowsPerS float64       `json:"rows_per_second"`
}

// Equal reports whether every table matched.
func (r VerifyReport) Equal() bool {
	for _, t := range r.Tables {
		if !t.Equal() {
			return false
		}
	}
	return true
}

// Verify compares source and target row by row: both sides are streamed in primary-key
// order (binary order for text keys on both engines) and merged; values are compared
// in a canonical form (integers and exact decimals as digits, booleans as 0/1,
// timestamps in UTC, bytes in hex).
func Verify(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = 20
	}
	start := time.Now()
	tables, err := CheckTables(ctx, o.Source, o.Target, o.Tables)
	if err != nil {
		return VerifyReport{}, err
	}
	var rep VerifyReport
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	results := make([]TableReport, len(tables))
	errs := make([]error, len(tables))
	var counted atomic.Int64
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, t := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = verifyTable(ctx, o, t, &counted)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return rep, fmt.Errorf("verify %s: %w", tables[i], err)
		}
		rep.Tables = append(rep.Tables, results[i])
		rep.Rows += results[i].SourceRows + results[i].TargetRows
	}
	if o.Progress != nil {
		o.Progress(rep.Rows)
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerS = float64(rep.Rows) / rep.Seconds
	}
	return rep, nil
}

type colInfo struct {
	name    string
	textKey bool
}

// columns lists a table's columns in order with whether each is textual.
func columns(ctx context.Context, db *dbx.DB, table string) ([]colInfo, error) {
	q := "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
	if db.Dialect.Family() == dbx.FamilyMySQL {
		q = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
	}
	rows, err := db.QueryContext(ctx, q, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []colInfo
	for rows.Next() {
		var c colInfo
		var typ string
		if err := rows.Scan(&c.name, &typ); err != nil {
			return nil, err
		}
		typ = strings.ToLower(typ)
		c.textKey = strings.Contains(typ, "char") || strings.Contains(typ, "text")
		out = append(out, c)
	}
	return out, rows.Err()
}

func verifyTable(ctx context.Context, o VerifyOptions, table string, counted *atomic.Int64) (TableReport, error) {
	tr := TableReport{Table: table}
	pk, err := PrimaryKey(ctx, o.Source, table)
	if err != nil {
		return tr, err
	}
	scols, err := columns(ctx, o.Source, table)
	if err != nil {
		return tr, err
	}
	tcols, err := columns(ctx, o.Target, table)
	if err != nil {
		return tr, err
	}
	names := make([]string, len(scols))
	for i, c := range scols {
		names[i] = c.name
	}
	tnames := make([]string, len(tcols))
	for i, c := range tcols {
		tnames[i] = c.name
	}
	for _, n := range names {
		if !slices.Contains(tnames, n) {
			return tr, fmt.Errorf("column %s is on the source but not on the target", n)
		}
	}
	textKey := map[string]bool{}
	for _, c := range scols {
		textKey[c.name] = c.textKey
	}
	var since *sinceFilter
	if !o.Since.IsZero() {
		cands := o.SinceColumns
		if len(cands) == 0 {
			cands = []string{"updated_at", "created_at"}
		}
		for _, c := range cands {
			if slices.Contains(names, c) {
				since = &sinceFilter{col: c, at: o.Since.UTC()}
				break
			}
		}
	}
	sRows, err := orderedScan(ctx, o.Source, table, names, pk, textKey, since)
	if err != nil {
		return tr, fmt.Errorf("source: %w", err)
	}
	defer sRows.Close()
	tRows, err := orderedScan(ctx, o.Target, table, names, pk, textKey, since)
	if err != nil {
		return tr, fmt.Errorf("target: %w", err)
	}
	defer tRows.Close()
	pkIdx := make([]int, len(pk))
	for i, k := range pk {
		pkIdx[i] = slices.Index(names, k)
	}
	var plan *repairPlan
	if o.Repair {
		plan = &repairPlan{cols: names, pk: pk}
		tr.repair = plan
		types, err := sRows.ColumnTypes()
		if err != nil {
			return tr, err
		}
		for _, ct := range types {
			plan.types = append(plan.types, ct.DatabaseTypeName())
		}
	}
	// Each side is read and made canonical in a goroutine of its own (both scans cost
	// CPU); the merge below consumes their batches.
	sctx, stop := context.WithCancel(ctx)
	srcStream, dstStream := newRowStream(sctx, sRows, len(names)), newRowStream(sctx, tRows, len(names))
	defer func() { stop(); srcStream.wait(); dstStream.wait() }()
	s, sRaw, sok, err := srcStream.next()
	if err != nil {
		return tr, err
	}
	t, tRaw, tok, err := dstStream.next()
	if err != nil {
		return tr, err
	}
	keep := func(raw []any, del bool) error {
		if plan == nil {
			return nil
		}
		if len(plan.upserts)+len(plan.deletes) >= MaxRepairRows {
			return fmt.Errorf("more than %d rows differ: reload the table with xckit cdc copy instead of --repair", MaxRepairRows)
		}
		if del {
			key := make([]any, len(pkIdx))
			for j, i := range pkIdx {
				key[j] = raw[i]
			}
			plan.deletes = append(plan.deletes, key)
			return nil
		}
		plan.upserts = append(plan.upserts, raw)
		return nil
	}
	add := func(d Diff) {
		if len(tr.Diffs) < o.MaxDiffs {
			tr.Diffs = append(tr.Diffs, d)
		}
	}
	var step int64
	for sok || tok {
		if step++; o.Progress != nil && step%5000 == 0 {
			o.Progress(counted.Add(10000))
		}
		var cmp int
		switch {
		case !tok:
			cmp = -1
		case !sok:
			cmp = 1
		default:
			cmp = compareKeys(s, t, pkIdx, pk, textKey)
		}
		switch {
		case cmp < 0:
			tr.Missing++
			tr.SourceRows++
			add(Diff{Kind: "missing", Key: keyString(s, pkIdx, pk)})
			if err = keep(sRaw, false); err == nil {
				s, sRaw, sok, err = srcStream.next()
			}
		case cmp > 0:
			tr.Extra++
			tr.TargetRows++
			add(Diff{Kind: "extra", Key: keyString(t, pkIdx, pk)})
			if o.Disposable != nil && !o.Disposable(table, names, t) {
				tr.Protected++
				if len(tr.ProtectedKeys) < o.MaxDiffs {
					tr.ProtectedKeys = append(tr.ProtectedKeys, keyString(t, pkIdx, pk))
				}
				t, tRaw, tok, err = dstStream.next()
			} else if err = keep(tRaw, true); err == nil {
				t, tRaw, tok, err = dstStream.next()
			}
		default:
			tr.SourceRows++
			tr.TargetRows++
			var diffCols []string
			for i := range names {
				if s[i] != t[i] {
					diffCols = append(diffCols, names[i])
				}
			}
			if len(diffCols) > 0 {
				tr.Different++
				add(Diff{Kind: "different", Key: keyString(s, pkIdx, pk), Columns: diffCols})
				err = keep(sRaw, false)
			}
			if err == nil {
				if s, sRaw, sok, err = srcStream.next(); err == nil {
					t, tRaw, tok, err = dstStream.next()
				}
			}
		}
		if err != nil {
			return tr, err
		}
	}
	if plan != nil {
		tr.Upserts, tr.Deletes = len(plan.upserts), len(plan.deletes)
	}
	return tr, nil
}
