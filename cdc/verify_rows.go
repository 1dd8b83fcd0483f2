package cdc

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

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
	first time.Time // when the first row (or the end) came; read after the stream ends
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
			if st.first.IsZero() {
				st.first = time.Now()
			}
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
				if c := cmp.Compare(x, y); c != 0 {
					return c
				}
				continue
			}
		}
		x, err1 := strconv.ParseFloat(a[i], 64)
		y, err2 := strconv.ParseFloat(b[i], 64)
		if err1 == nil && err2 == nil {
			if c := cmp.Compare(x, y); c != 0 {
				return c
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
