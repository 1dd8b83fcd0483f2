package cdc

import (
	"fmt"
	"strings"
)

// testDecoding reads PostgreSQL's test_decoding output (also in openGauss contrib):
//
//	BEGIN 731
//	table public.payments: INSERT: id[bigint]:1 acct[text]:'A-1'
//	table public.t: UPDATE: old-key: id[bigint]:1 new-tuple: id[bigint]:2 v[text]:'x'
//	table public.t: DELETE: id[bigint]:2
//	COMMIT 731 (at 2026-11-22 01:21:03.40574+00)
type testDecoding struct{}

func (testDecoding) Plugin() string { return "test_decoding" }

func (testDecoding) Options() []string {
	return []string{"include-xids", "1", "include-timestamp", "1", "skip-empty-xacts", "1"}
}

func (testDecoding) Decode(raw RawChange) (Change, error) {
	d := raw.Data
	c := Change{LSN: raw.LSN, XID: raw.XID}
	if ok, err := txnBoundary("test_decoding", d, &c); ok {
		return c, err
	}
	switch {
	case !strings.HasPrefix(d, "table "):
		return c, fmt.Errorf("test_decoding: unrecognised line %q", trim(d))
	case strings.Contains(d, ": TRUNCATE:"): // one or more tables: "table a, b: TRUNCATE: …"
		return c, notReplicated("test_decoding", raw, "TRUNCATE", d[len("table "):strings.Index(d, ": TRUNCATE:")], "")
	}
	body := d[len("table "):]
	name, i, err := scanQualifiedUntilColon(body)
	if err != nil {
		return c, fmt.Errorf("test_decoding: %w in %q", err, trim(d))
	}
	if c.Schema, c.Table, err = splitQualified(name); err != nil {
		return c, err
	}
	op, rest, ok := strings.Cut(body[i:], ": ")
	if !ok {
		op, rest = strings.TrimSuffix(body[i:], ":"), ""
	}
	switch Kind(op) {
	case Insert, Update, Delete:
		c.Kind = Kind(op)
	default:
		return c, fmt.Errorf("test_decoding: %s on %s is not replicated (only INSERT, UPDATE, DELETE): stop and handle it by hand", op, c.QualifiedName())
	}
	if rest == "(no-tuple-data)" {
		if c.Kind == Delete {
			return c, fmt.Errorf("test_decoding: DELETE on %s without key data: the table needs a primary key or REPLICA IDENTITY", c.QualifiedName())
		}
		return c, nil
	}
	if strings.HasPrefix(rest, "old-key: ") {
		oldPart, newPart, ok := strings.Cut(rest[len("old-key: "):], " new-tuple: ")
		if !ok {
			return c, fmt.Errorf("test_decoding: UPDATE with old-key but no new-tuple: %q", trim(d))
		}
		if c.Key, err = parseTDColumns(oldPart); err != nil {
			return c, err
		}
		c.Columns, err = parseTDColumns(newPart)
		return c, err
	}
	cols, err := parseTDColumns(rest)
	if err != nil {
		return c, fmt.Errorf("test_decoding %s %s: %w", c.Kind, c.QualifiedName(), err)
	}
	if c.Kind == Delete {
		c.Key = cols
	} else {
		c.Columns = cols
	}
	return c, nil
}

// scanQualifiedUntilColon reads the table name, which ends at ": " outside quotes.
func scanQualifiedUntilColon(s string) (string, int, error) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && s[i] == ':' && i+1 < len(s) && s[i+1] == ' ':
			return s[:i], i + 2, nil
		}
	}
	return "", 0, fmt.Errorf("no table name")
}

// parseTDColumns reads `name[type]:value name[type]:value ...`.
func parseTDColumns(s string) ([]Column, error) {
	var cols []Column
	i := 0
	for i < len(s) {
		name, j, err := scanIdent(s, i, "[")
		if err != nil {
			return nil, err
		}
		if j >= len(s) || s[j] != '[' {
			return nil, fmt.Errorf("column %s: missing [type]", name)
		}
		end := strings.Index(s[j:], "]:")
		if end < 0 {
			return nil, fmt.Errorf("column %s: missing ]:", name)
		}
		typ := s[j+1 : j+end]
		v, k, err := scanLiteral(s, j+end+2, ' ')
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		v.Name, v.Type = name, typ
		cols = append(cols, v)
		i = k
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	return cols, nil
}

func between(s, open, close string) (string, bool) {
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	j := strings.Index(s[i+len(open):], close)
	if j < 0 {
		return "", false
	}
	return s[i+len(open) : i+len(open)+j], true
}
