package cdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// wal2jsonDecoder reads wal2json's format-version 2: one JSON object per line with
// "action" B (begin), C (commit), I, U, D; values arrive JSON-typed.
type wal2jsonDecoder struct{}

func (wal2jsonDecoder) Plugin() string { return "wal2json" }

func (wal2jsonDecoder) Options() []string {
	return []string{"format-version", "2", "include-xids", "1", "include-timestamp", "1", "include-types", "1"}
}

type w2jColumn struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type w2jRow struct {
	Action    string      `json:"action"`
	XID       json.Number `json:"xid"`
	Timestamp string      `json:"timestamp"`
	LSN       string      `json:"lsn"`
	NextLSN   string      `json:"nextlsn"`
	Schema    string      `json:"schema"`
	Table     string      `json:"table"`
	Columns   []w2jColumn `json:"columns"`
	Identity  []w2jColumn `json:"identity"`
	PK        []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"pk"`
}

func (wal2jsonDecoder) Decode(raw RawChange) (Change, error) {
	c := Change{LSN: raw.LSN, XID: raw.XID}
	var r w2jRow
	dec := json.NewDecoder(bytes.NewReader([]byte(raw.Data)))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return c, fmt.Errorf("wal2json: %w in %q", err, trim(raw.Data))
	}
	if r.XID != "" {
		c.XID = r.XID.String()
	}
	switch r.Action {
	case "B":
		c.Kind = Begin
		return c, nil
	case "C":
		c.Kind = Commit
		if r.Timestamp != "" {
			t, err := parseTimestamp(r.Timestamp, true)
			if err != nil {
				return c, fmt.Errorf("wal2json commit: %w", err)
			}
			c.CommitTime = t
		}
		return c, nil
	case "I":
		c.Kind = Insert
	case "U":
		c.Kind = Update
	case "D":
		c.Kind = Delete
	default:
		return c, fmt.Errorf("wal2json: action %q on %s.%s is not replicated (only I, U, D)", r.Action, r.Schema, r.Table)
	}
	c.Schema, c.Table = r.Schema, r.Table
	var err error
	if c.Columns, err = w2jColumns(r.Columns); err != nil {
		return c, fmt.Errorf("wal2json %s %s: %w", c.Kind, c.QualifiedName(), err)
	}
	if c.Key, err = w2jColumns(r.Identity); err != nil {
		return c, fmt.Errorf("wal2json %s %s identity: %w", c.Kind, c.QualifiedName(), err)
	}
	if c.Kind == Delete && len(c.Key) == 0 {
		return c, fmt.Errorf("wal2json: DELETE on %s without identity: the table needs a primary key", c.QualifiedName())
	}
	return c, nil
}

func w2jColumns(in []w2jColumn) ([]Column, error) {
	out := make([]Column, 0, len(in))
	for _, w := range in {
		c := Column{Name: w.Name, Type: w.Type}
		v := bytes.TrimSpace(w.Value)
		switch {
		case len(v) == 0 || string(v) == "null":
			c.Null = true
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("column %s: %w", w.Name, err)
			}
			c.Text = s
		case v[0] == '{' || v[0] == '[':
			c.Text = string(v)
		default: // number or boolean, kept as written: numeric stays exact
			c.Text = strings.TrimSpace(string(v))
		}
		out = append(out, c)
	}
	return out, nil
}
