package cdc

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
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
			if err = keep(tRaw, true); err == nil {
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
			rows := make([][]any, len(p.upserts))
			for i, r := range p.upserts {
				row := make([]any, len(r))
				for j, v := range r {
					row[j] = convertFor(v, p.types[j], dstTypes[p.cols[j]])
				}
				rows[i] = row
			}
			if err := upsertRows(ctx, target, t.Table, p.cols, p.pk, rows); err != nil {
				return fmt.Errorf("repair %s: %w", t.Table, err)
			}
		}
	}
	return nil
}

// orderedScan streams a table in primary-key order; text keys in binary order on
// both engines so that the two streams merge.
func orderedScan(ctx context.Context, db *dbx.DB, table string, cols, pk []string, textKey map[string]bool, since *sinceFilter) (*sql.Rows, error) {
	d := db.Dialect
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = d.QuoteIdent(c)
	}
	order := make([]string, len(pk))
	for i, k := range pk {
		order[i] = d.QuoteIdent(k)
		if textKey[k] {
			if d.Family() == dbx.FamilyMySQL {
				order[i] = "CAST(" + order[i] + " AS BINARY)"
			} else {
				order[i] += ` COLLATE "C"`
			}
		}
	}
	where, args := "", []any(nil)
	if since != nil {
		where, args = fmt.Sprintf(" WHERE %s >= %s", d.QuoteIdent(since.col), d.Placeholder(1)), []any{since.at}
	}
	return db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s", strings.Join(q, ", "), d.QuoteIdent(table), where, strings.Join(order, ", ")), args...)
}

// rowStream reads rows in a goroutine, in batches, canonical and raw.
type rowStream struct {
	ch    chan rowBatch
	batch rowBatch
	i     int
	done  chan struct{}
}

type rowBatch struct {
	canon [][]string
	raw   [][]any
	err   error
}

func newRowStream(ctx context.Context, rows *sql.Rows, n int) *rowStream {
	st := &rowStream{ch: make(chan rowBatch, 4), done: make(chan struct{})}
	go func() {
		defer close(st.done)
		defer close(st.ch)
		defer rows.Close()
		var b rowBatch
		send := func() bool {
			select {
			case st.ch <- b:
				b = rowBatch{}
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			var raw []any
			c, ok, err := nextRow(rows, n, &raw)
			if err != nil {
				b.err = err
				send()
				return
			}
			if !ok {
				if len(b.canon) > 0 {
					send()
				}
				return
			}
			b.canon, b.raw = append(b.canon, c), append(b.raw, raw)
			if len(b.canon) == 512 && !send() {
				return
			}
		}
	}()
	return st
}

// next returns the next row; ok is false at the end.
func (st *rowStream) next() ([]string, []any, bool, error) {
	for st.i >= len(st.batch.canon) {
		b, ok := <-st.ch
		if !ok {
			return nil, nil, false, nil
		}
		if b.err != nil {
			return nil, nil, false, b.err
		}
		st.batch, st.i = b, 0
	}
	st.i++
	return st.batch.canon[st.i-1], st.batch.raw[st.i-1], true, nil
}

// wait returns once the reading goroutine has ended (after a cancel or the end).
func (st *rowStream) wait() { <-st.done }

// nextRow reads the next row in canonical form, and its raw values into *raw.
func nextRow(rows *sql.Rows, n int, raw *[]any) ([]string, bool, error) {
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, false, err
	}
	out := make([]string, n)
	for i, v := range vals {
		if b, ok := v.([]byte); ok { // drivers may reuse the buffer
			vals[i] = append([]byte(nil), b...)
		}
		out[i] = canonical(vals[i])
	}
	*raw = vals
	return out, true, nil
}

// canonical renders a scanned value so that equal data compares equal across engines.
func canonical(v any) string {
	switch x := v.(type) {
	case nil:
		return "\\N"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.000000")
	case []byte:
		if isDecimal(x) {
			return normDecimal(string(x))
		}
		if bytes.ContainsFunc(x, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }) || !isUTF8(x) {
			return "\\x" + hex.EncodeToString(x)
		}
		return string(x)
	case string:
		if isDecimal([]byte(x)) {
			return normDecimal(x)
		}
		return x
	default:
		// pgx numeric and other types print themselves exactly.
		s := fmt.Sprint(x)
		if isDecimal([]byte(s)) {
			return normDecimal(s)
		}
		return s
	}
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

func isDecimal(b []byte) bool {
	if len(b) == 0 || len(b) > 80 {
		return false
	}
	dot := false
	for i, c := range b {
		switch {
		case c == '-' && i == 0:
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return b[len(b)-1] != '-' && b[len(b)-1] != '.'
}

// normDecimal drops trailing fractional zeros and a leading plus: 12.50 and 12.5 agree.
func normDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

func compareKeys(a, b []string, idx []int, pk []string, textKey map[string]bool) int {
	for j, i := range idx {
		if textKey[pk[j]] {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
			continue
		}
		if x, err1 := strconv.ParseInt(a[i], 10, 64); err1 == nil {
			if y, err2 := strconv.ParseInt(b[i], 10, 64); err2 == nil {
				switch {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				continue
			}
		}
		x, err1 := strconv.ParseFloat(a[i], 64)
		y, err2 := strconv.ParseFloat(b[i], 64)
		if err1 == nil && err2 == nil {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			continue
		}
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func keyString(row []string, idx []int, pk []string) string {
	parts := make([]string, len(idx))
	for j, i := range idx {
		parts[j] = pk[j] + "=" + row[i]
	}
	return strings.Join(parts, ", ")
}

type sinceFilter struct {
	col string
	at  time.Time
}
