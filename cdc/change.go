package cdc

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LSN is a write-ahead log position, printed as "X/Y".
type LSN uint64

// ParseLSN reads "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("LSN %q: want X/Y in hex", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("LSN %q: want X/Y in hex", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// Kind is what a decoded line is.
type Kind string

const (
	Begin  Kind = "BEGIN"
	Commit Kind = "COMMIT"
	Insert Kind = "INSERT"
	Update Kind = "UPDATE"
	Delete Kind = "DELETE"
)

// RawChange is one row of pg_logical_slot_peek_changes: location | xid | data.
type RawChange struct {
	LSN  LSN
	XID  string
	Data string
}

// Column is one decoded value. Text holds the value as SQL text without quoting (the
// digits of a number, the characters of a string, "\x..." of a bytea); Null marks SQL NULL.
type Column struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Null  bool   `json:"-"`
	Toast bool   `json:"-"` // an unchanged TOASTed value the plugin did not send
	Text  string `json:"-"`
}

// Change is one decoded line: a transaction boundary or a row change.
type Change struct {
	Kind       Kind      `json:"op"`
	XID        string    `json:"xid,omitempty"`
	LSN        LSN       `json:"-"`
	CommitTime time.Time `json:"commit_time,omitzero"`
	Schema     string    `json:"-"`
	Table      string    `json:"-"`
	Columns    []Column  `json:"-"` // the new row (INSERT, UPDATE)
	Key        []Column  `json:"-"` // the old key (UPDATE when the key changed or with REPLICA IDENTITY, DELETE)
}

// QualifiedName is schema.table.
func (c Change) QualifiedName() string {
	if c.Schema == "" {
		return c.Table
	}
	return c.Schema + "." + c.Table
}

// IsRow reports whether the change is a row change.
func (c Change) IsRow() bool { return c.Kind == Insert || c.Kind == Update || c.Kind == Delete }

// Txn is one source transaction, in commit order.
type Txn struct {
	XID        string
	CommitLSN  LSN
	CommitTime time.Time
	// Changes are the row changes in order; a transaction past its reader's Spool
	// bound has them in a spool file instead (Each reads either).
	Changes []Change

	size  int64             // bytes of Changes (changeSize), toward the spool bound
	spill *spill            // the changes on disk, when spooled
	keep  func(Change) bool // the pipeline's table filter, applied by Each
}

// toastUnchanged is how the plugins print a TOASTed value the update did not touch.
const toastUnchanged = "unchanged-toast-datum"

// integerTypes and friends classify PostgreSQL-family type names (format_type output,
// with or without a typmod).
func baseType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if i := strings.IndexByte(t, '('); i > 0 {
		rest := t[strings.IndexByte(t, ')')+1:]
		t = strings.TrimSpace(t[:i] + rest)
	}
	return strings.TrimSuffix(t, "[]")
}

func isInteger(t string) bool {
	switch baseType(t) {
	case "smallint", "integer", "bigint", "int2", "int4", "int8", "oid", "tinyint":
		return true
	}
	return false
}

func isExactNumber(t string) bool {
	switch baseType(t) {
	case "numeric", "decimal":
		return true
	}
	return false
}

func isFloat(t string) bool {
	switch baseType(t) {
	case "real", "double precision", "float4", "float8":
		return true
	}
	return false
}

// Value converts a decoded column to what a database driver takes: int64 for
// integers, string for numeric (never through float), bool, []byte for bytea,
// time.Time for timestamps (timestamptz in UTC), string otherwise; nil for NULL.
func (c Column) Value() (any, error) {
	if c.Null {
		return nil, nil
	}
	if c.Toast {
		return nil, fmt.Errorf("column %s: unchanged TOAST value: the plugin did not send it; set REPLICA IDENTITY FULL on the source table", c.Name)
	}
	switch bt := baseType(c.Type); {
	case isInteger(bt):
		v, err := strconv.ParseInt(c.Text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("column %s: %q is not a %s", c.Name, c.Text, c.Type)
		}
		return v, nil
	case bt == "boolean" || bt == "bool":
		switch strings.ToLower(c.Text) {
		case "t", "true":
			return true, nil
		case "f", "false":
			return false, nil
		}
		return nil, fmt.Errorf("column %s: %q is not a boolean", c.Name, c.Text)
	case bt == "bytea":
		// test_decoding and mppdb_decoding print bytea_output hex ("\x00ff"); wal2json
		// prints the hex digits alone.
		b, err := hex.DecodeString(strings.TrimPrefix(c.Text, `\x`))
		if err != nil {
			return nil, fmt.Errorf("column %s: bytea %q is not hex (set bytea_output = hex on the source): %w", c.Name, trim(c.Text), err)
		}
		return b, nil
	case bt == "timestamp with time zone" || bt == "timestamptz":
		t, err := parseTimestamp(c.Text, true)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		return t.UTC(), nil
	case bt == "timestamp without time zone" || bt == "timestamp":
		t, err := parseTimestamp(c.Text, false)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		return t, nil
	}
	return c.Text, nil
}

func parseTimestamp(s string, tz bool) (time.Time, error) {
	layouts := []string{"2006-01-02 15:04:05.999999999"}
	if tz {
		layouts = []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in ISO form (set DateStyle = ISO)", s)
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// JSONValue is the value for `cdc decode` output: numbers for integers, strings for
// numeric (exact), booleans, null, strings otherwise.
func (c Column) JSONValue() any {
	if c.Null || c.Toast {
		return nil
	}
	switch {
	case isInteger(c.Type):
		if v, err := strconv.ParseInt(c.Text, 10, 64); err == nil {
			return v
		}
	case baseType(c.Type) == "boolean":
		return strings.ToLower(c.Text) == "true" || c.Text == "t"
	}
	return c.Text
}
