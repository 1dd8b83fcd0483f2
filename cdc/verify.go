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
	// Seconds is how long the table took; SourceFirst and TargetFirst how long until
	// each side's first row came (the scan's planning and, for a range, its sort).
	Seconds     float64 `json:"seconds"`
	SourceFirst float64 `json:"source_first_row_seconds"`
	TargetFirst float64 `json:"target_first_row_seconds"`

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
	typ     string // information_schema's data_type, lower case
	textKey bool
}

// columns lists a table's columns in order, with their types and whether each is
// textual.
func columns(ctx context.Context, db *dbx.DB, table string) ([]colInfo, error) {
	rows, err := db.QueryContext(ctx, db.Dialect.ColumnsSQL(), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []colInfo
	for rows.Next() {
		var c colInfo
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		c.typ = strings.ToLower(c.typ)
		c.textKey = strings.Contains(c.typ, "char") || strings.Contains(c.typ, "text")
		out = append(out, c)
	}
	return out, rows.Err()
}

// shape is what comparing a table needs to know of it.
type shape struct {
	pk, names []string
	textKey   map[string]bool // key columns compared as text (collation-free)
	since     *sinceFilter
}

// tableShape reads a table's key and columns on both sides; a column the target lacks
// is an error.
func tableShape(ctx context.Context, o VerifyOptions, table string) (shape, error) {
	var sh shape
	var err error
	if sh.pk, err = PrimaryKey(ctx, o.Source, table); err != nil {
		return sh, err
	}
	scols, err := columns(ctx, o.Source, table)
	if err != nil {
		return sh, err
	}
	tcols, err := columns(ctx, o.Target, table)
	if err != nil {
		return sh, err
	}
	sh.textKey = map[string]bool{}
	for _, c := range scols {
		sh.names = append(sh.names, c.name)
		sh.textKey[c.name] = c.textKey
	}
	for _, n := range sh.names {
		if !slices.ContainsFunc(tcols, func(c colInfo) bool { return c.name == n }) {
			return sh, fmt.Errorf("column %s is on the source but not on the target", n)
		}
	}
	if !o.Since.IsZero() {
		cands := o.SinceColumns
		if len(cands) == 0 {
			cands = []string{"updated_at", "created_at"}
		}
		for _, c := range cands {
			if slices.Contains(sh.names, c) {
				sh.since = &sinceFilter{col: c, at: o.Since.UTC()}
				break
			}
		}
	}
	return sh, nil
}

func verifyTable(ctx context.Context, o VerifyOptions, table string, counted *atomic.Int64) (TableReport, error) {
	tr := TableReport{Table: table}
	began := time.Now()
	sh, err := tableShape(ctx, o, table)
	if err != nil {
		return tr, err
	}
	// Each side is read and made canonical in a goroutine of its own (both scans cost
	// CPU), started as soon as its query answers; the merge consumes their batches.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	src, dst, err := bothScans(sctx, o, table, sh)
	if err != nil {
		return tr, err
	}
	m := &merger{o: o, table: table, sh: sh, tr: &tr, src: src.stream, dst: dst.stream}
	defer func() { stop(); m.src.wait(); m.dst.wait() }()
	for _, k := range sh.pk {
		m.pkIdx = append(m.pkIdx, slices.Index(sh.names, k))
	}
	if o.Repair {
		m.plan = &repairPlan{cols: sh.names, pk: sh.pk, types: src.types}
		tr.repair = m.plan
	}
	if err := m.run(counted); err != nil {
		return tr, err
	}
	tr.SourceFirst, tr.TargetFirst = m.src.first.Sub(began).Seconds(), m.dst.first.Sub(began).Seconds()
	tr.Seconds = time.Since(began).Seconds()
	if m.plan != nil {
		tr.Upserts, tr.Deletes = len(m.plan.upserts), len(m.plan.deletes)
	}
	return tr, nil
}

// sideScan is one side's ordered scan, read by its stream from the moment the query
// answered.
type sideScan struct {
	stream *rowStream
	types  []string // the columns' database types (for a repair's plan)
}

// bothScans starts the ordered scan of both sides at once: each server plans and, for
// a range, sorts before its first row, and neither should wait for the other.
func bothScans(ctx context.Context, o VerifyOptions, table string, sh shape) (src, dst sideScan, err error) {
	scan := func(db *dbx.DB) (sideScan, error) {
		rows, err := orderedScan(ctx, db, table, sh.names, sh.pk, sh.textKey, sh.since)
		if err != nil {
			return sideScan{}, err
		}
		var sc sideScan
		if o.Repair {
			types, err := rows.ColumnTypes()
			if err != nil {
				rows.Close()
				return sideScan{}, err
			}
			for _, ct := range types {
				sc.types = append(sc.types, ct.DatabaseTypeName())
			}
		}
		sc.stream = newRowStream(ctx, rows, len(sh.names))
		return sc, nil
	}
	var wg sync.WaitGroup
	var serr, terr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		src, serr = scan(o.Source)
	}()
	dst, terr = scan(o.Target)
	wg.Wait()
	if serr == nil && terr == nil {
		return src, dst, nil
	}
	// A stream that started ends when the caller cancels ctx, as it does on return.
	if serr != nil {
		return src, dst, fmt.Errorf("source: %w", serr)
	}
	return src, dst, fmt.Errorf("target: %w", terr)
}

// merger walks both sides in key order and counts what differs.
type merger struct {
	o        VerifyOptions
	table    string
	sh       shape
	tr       *TableReport
	pkIdx    []int
	plan     *repairPlan
	src, dst *rowStream
}

func (m *merger) run(counted *atomic.Int64) error {
	s, sRaw, sok, err := m.src.next()
	if err != nil {
		return err
	}
	t, tRaw, tok, err := m.dst.next()
	if err != nil {
		return err
	}
	var step int64
	for sok || tok {
		if step++; m.o.Progress != nil && step%5000 == 0 {
			m.o.Progress(counted.Add(10000))
		}
		cmp := 0
		switch {
		case !tok:
			cmp = -1
		case !sok:
			cmp = 1
		default:
			cmp = compareKeys(s, t, m.pkIdx, m.sh.pk, m.sh.textKey)
		}
		switch {
		case cmp < 0:
			if err = m.missing(s, sRaw); err == nil {
				s, sRaw, sok, err = m.src.next()
			}
		case cmp > 0:
			if err = m.extra(t, tRaw); err == nil {
				t, tRaw, tok, err = m.dst.next()
			}
		default:
			if err = m.both(s, t, sRaw); err == nil {
				if s, sRaw, sok, err = m.src.next(); err == nil {
					t, tRaw, tok, err = m.dst.next()
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// missing: a source row the target lacks.
func (m *merger) missing(s []string, raw []any) error {
	m.tr.Missing++
	m.tr.SourceRows++
	m.add(Diff{Kind: "missing", Key: keyString(s, m.pkIdx, m.sh.pk)})
	return m.keep(raw, false)
}

// extra: a target row the source lacks (kept when it is not disposable).
func (m *merger) extra(t []string, raw []any) error {
	m.tr.Extra++
	m.tr.TargetRows++
	m.add(Diff{Kind: "extra", Key: keyString(t, m.pkIdx, m.sh.pk)})
	if m.o.Disposable != nil && !m.o.Disposable(m.table, m.sh.names, t) {
		m.tr.Protected++
		if len(m.tr.ProtectedKeys) < m.o.MaxDiffs {
			m.tr.ProtectedKeys = append(m.tr.ProtectedKeys, keyString(t, m.pkIdx, m.sh.pk))
		}
		return nil
	}
	return m.keep(raw, true)
}

// both: a key on both sides; its columns compared.
func (m *merger) both(s, t []string, sRaw []any) error {
	m.tr.SourceRows++
	m.tr.TargetRows++
	var diffCols []string
	for i := range m.sh.names {
		if s[i] != t[i] {
			diffCols = append(diffCols, m.sh.names[i])
		}
	}
	if len(diffCols) == 0 {
		return nil
	}
	m.tr.Different++
	m.add(Diff{Kind: "different", Key: keyString(s, m.pkIdx, m.sh.pk), Columns: diffCols})
	return m.keep(sRaw, false)
}

func (m *merger) add(d Diff) {
	if len(m.tr.Diffs) < m.o.MaxDiffs {
		m.tr.Diffs = append(m.tr.Diffs, d)
	}
}

// keep adds a row to the repair plan: an upsert of the source's row, or a delete of the
// target's key.
func (m *merger) keep(raw []any, del bool) error {
	if m.plan == nil {
		return nil
	}
	if len(m.plan.upserts)+len(m.plan.deletes) >= MaxRepairRows {
		return fmt.Errorf("more than %d rows differ: reload the table with xckit cdc copy instead of --repair", MaxRepairRows)
	}
	if del {
		key := make([]any, len(m.pkIdx))
		for j, i := range m.pkIdx {
			key[j] = raw[i]
		}
		m.plan.deletes = append(m.plan.deletes, key)
		return nil
	}
	m.plan.upserts = append(m.plan.upserts, raw)
	return nil
}
