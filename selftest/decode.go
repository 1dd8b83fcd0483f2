package selftest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/cdc"
)

// rows the decode check writes: every column type the platform uses, numeric(20,2)
// at its edges, Chinese and emoji text, quotes, backslashes and newlines, NULL beside
// the word 'null', and an empty string (NULL in A mode, which the check would catch).
var rows = []string{
	`(1, 123456789012345678.99, '客户-支付宝', 'CNY', '说明 🚀 emoji', true, '2026-12-01 08:30:00.123456', '2026-12-01 08:30:00.123456+08', 42)`,
	`(2, -0.01, '', 'USD', 'null', false, '2026-12-01 23:59:59.999999', NULL, NULL)`,
	`(3, 0.00, 'it''s \ a "quote"' || chr(10) || 'next line', 'EUR', NULL, true, '2000-02-29 00:00:00', '1999-12-31 16:00:00+00', -2147483648)`,
}

var columns = []string{"id", "amount", "customer", "currency", "note", "ok", "created_at", "paid_at", "n"}

// decode writes rows through the platform's role and reads them back through a slot
// of the site's plugin with the kit's own reader and decoder, value by value.
func (r *run) decode(ctx context.Context) (string, error) {
	if r.app == nil || r.cdc == nil {
		return "", errSkipped
	}
	plugin := r.cdc.Dialect.DefaultDecodingPlugin()
	dec, err := cdc.DecoderFor(plugin)
	if err != nil {
		return "", err
	}
	if _, err := r.cdc.ExecContext(ctx, r.cdc.Dialect.CreateSlotSQL(), r.slot, plugin); err != nil {
		return "", fmt.Errorf("create slot %s (%s) as %s: %w", r.slot, plugin, r.cdc.DSN.User, err)
	}
	want, err := r.writeRows(ctx)
	if err != nil {
		return "", err
	}
	changes, err := r.readChanges(ctx, dec, 5)
	if err != nil {
		return "", err
	}
	kinds := []cdc.Kind{cdc.Insert, cdc.Insert, cdc.Insert, cdc.Update, cdc.Delete}
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind))
	}
	if len(changes) != len(kinds) {
		return "", fmt.Errorf("%s gave %d changes of %s (%s), want 3 inserts, an update and a delete", plugin, len(changes), r.table, strings.Join(got, ", "))
	}
	values := 0
	for i, c := range changes {
		if c.Kind != kinds[i] {
			return "", fmt.Errorf("change %d is %s, want %s (changes: %s)", i+1, c.Kind, kinds[i], strings.Join(got, ", "))
		}
		switch c.Kind {
		case cdc.Insert:
			n, err := sameRow(c.Columns, want[i])
			if err != nil {
				return "", fmt.Errorf("%s insert of row %d: %w", plugin, i+1, err)
			}
			values += n
		case cdc.Update:
			// The old key comes only when the key changed (replica identity default).
			key := c.Key
			if len(key) == 0 {
				key = c.Columns
			}
			if err := hasValue(key, "id", "1"); err != nil {
				return "", fmt.Errorf("%s update's key: %w", plugin, err)
			}
			if err := hasValue(c.Columns, "amount", "-99999999999999999.99"); err != nil {
				return "", fmt.Errorf("%s update: %w", plugin, err)
			}
		case cdc.Delete:
			if err := hasValue(c.Key, "id", "3"); err != nil {
				return "", fmt.Errorf("%s delete's key: %w", plugin, err)
			}
		}
	}
	if err := dropSlot(ctx, r.cdc, r.slot); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: 3 inserts, an update and a delete decoded by xckit's reader; %d values equal to what the database holds (numeric(20,2), 支付 🚀, '' and NULL vs 'null')", plugin, values), nil
}

// writeRows inserts the rows, reads them back as text (each type's output, as the
// plugin prints it), then updates one and deletes another.
func (r *run) writeRows(ctx context.Context) ([]map[string]sql.NullString, error) {
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", r.table, strings.Join(columns, ", "), strings.Join(rows, ", "))
	if _, err := r.app.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("insert the test rows: %w", err)
	}
	texts := make([]string, len(columns))
	for i, c := range columns {
		texts[i] = c + "::text"
	}
	res, err := r.app.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY id", strings.Join(texts, ", "), r.table))
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var want []map[string]sql.NullString
	for res.Next() {
		vals := make([]sql.NullString, len(columns))
		ptrs := make([]any, len(columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := map[string]sql.NullString{}
		for i, c := range columns {
			m[c] = vals[i]
		}
		want = append(want, m)
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	for _, q := range []string{
		fmt.Sprintf("UPDATE %s SET amount = -99999999999999999.99 WHERE id = 1", r.table),
		fmt.Sprintf("DELETE FROM %s WHERE id = 3", r.table),
	} {
		if _, err := r.app.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return want, nil
}

// readChanges peeks the slot until the scratch table's n changes are there.
func (r *run) readChanges(ctx context.Context, dec cdc.Decoder, n int) ([]cdc.Change, error) {
	reader := cdc.NewSQLReader(r.cdc, r.slot, dec, 1000)
	for {
		txns, err := reader.Next(ctx)
		if err != nil {
			return nil, err
		}
		var out []cdc.Change
		for _, t := range txns {
			if err := t.Each(func(c cdc.Change) error {
				if c.Table == r.table {
					out = append(out, c)
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
		if len(out) >= n {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("slot %s gave %d of the %d changes written: %w", r.slot, len(out), n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func sameRow(cols []cdc.Column, want map[string]sql.NullString) (int, error) {
	if len(cols) != len(want) {
		return 0, fmt.Errorf("%d columns decoded, the table has %d", len(cols), len(want))
	}
	for _, c := range cols {
		w, ok := want[c.Name]
		if !ok {
			return 0, fmt.Errorf("column %q decoded, the table has none of that name", c.Name)
		}
		switch {
		case c.Toast:
			return 0, fmt.Errorf("column %s: an unchanged TOAST value in an insert", c.Name)
		case c.Null != !w.Valid:
			return 0, fmt.Errorf("column %s: decoded NULL=%v, the database holds %s", c.Name, c.Null, show(w))
		case w.Valid && c.Text != w.String:
			return 0, fmt.Errorf("column %s (%s): decoded %q, the database holds %q", c.Name, c.Type, c.Text, w.String)
		}
	}
	return len(cols), nil
}

func hasValue(cols []cdc.Column, name, want string) error {
	for _, c := range cols {
		if c.Name == name {
			if c.Null || c.Text != want {
				return fmt.Errorf("%s is %q, want %q", name, c.Text, want)
			}
			return nil
		}
	}
	return fmt.Errorf("no column %s", name)
}

func show(v sql.NullString) string {
	if !v.Valid {
		return "NULL"
	}
	return fmt.Sprintf("%q", v.String)
}
