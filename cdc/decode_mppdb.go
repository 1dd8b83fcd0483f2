package cdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// mppdbDecoding reads openGauss's mppdb_decoding output: `BEGIN <xid>`,
// `COMMIT <xid> [(at <ts>)] CSN <csn>`, and one JSON object per changed row whose
// values are SQL literals (numbers bare, text quoted with doubled quotes, NULL as the
// bare word null).
type mppdbDecoding struct{}

func (mppdbDecoding) Plugin() string { return "mppdb_decoding" }

func (mppdbDecoding) Options() []string {
	return []string{"include-xids", "true", "include-timestamp", "true", "skip-empty-xacts", "true"}
}

type mppdbRow struct {
	TableName   string   `json:"table_name"`
	OpType      string   `json:"op_type"`
	ColumnsName []string `json:"columns_name"`
	ColumnsType []string `json:"columns_type"`
	ColumnsVal  []string `json:"columns_val"`
	OldKeysName []string `json:"old_keys_name"`
	OldKeysType []string `json:"old_keys_type"`
	OldKeysVal  []string `json:"old_keys_val"`
}

func (mppdbDecoding) Decode(raw RawChange) (Change, error) {
	d := strings.TrimSpace(raw.Data)
	c := Change{LSN: raw.LSN, XID: raw.XID}
	if ok, err := txnBoundary("mppdb_decoding", d, &c); ok {
		return c, err
	}
	switch {
	case strings.HasPrefix(d, "table ") && strings.Contains(d, ": TRUNCATE:"):
		// pg_decode_truncate (openGauss 2024 on): "table s.t[, s.u]: TRUNCATE: (no-flags)".
		return c, notReplicated("mppdb_decoding", raw, "TRUNCATE", strings.TrimPrefix(d[:strings.Index(d, ": TRUNCATE:")], "table "), "")
	case strings.HasPrefix(d, "prefix: ") && strings.Contains(d, "cmdtype: "):
		// pg_decode_ddl (openGauss 2024 on, publications WITH (ddl = ...)):
		// "prefix: deparse, lsn: ..., relid ..., cmdtype: ..., content: ...\ndecode to: SQL, [owner o]".
		stmt := ""
		if _, after, ok := strings.Cut(d, "decode to: "); ok {
			stmt = after
		}
		return c, notReplicated("mppdb_decoding", raw, "DDL", "", stmt)
	case strings.HasPrefix(d, "ABORT") || strings.HasPrefix(d, "PREPARE"):
		return c, fmt.Errorf("mppdb_decoding: %q at %s: an aborted or prepared transaction in the stream is not handled by xckit's CDC; "+
			"stop and check the source (two-phase commit must be off for the platform's tables)", trim(d), raw.LSN)
	case !strings.HasPrefix(d, "{"):
		return c, fmt.Errorf("mppdb_decoding: unrecognised line %q", trim(d))
	}
	var r mppdbRow
	dec := json.NewDecoder(bytes.NewReader([]byte(d)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return c, fmt.Errorf("mppdb_decoding: %w in %q", err, trim(d))
	}
	var err error
	if c.Schema, c.Table, err = splitQualified(r.TableName); err != nil {
		return c, err
	}
	switch Kind(r.OpType) {
	case Insert, Update, Delete:
		c.Kind = Kind(r.OpType)
	default:
		return c, fmt.Errorf("mppdb_decoding: op_type %q on %s is not replicated", r.OpType, c.QualifiedName())
	}
	if c.Columns, err = mppdbColumns(r.ColumnsName, r.ColumnsType, r.ColumnsVal); err != nil {
		return c, fmt.Errorf("mppdb_decoding %s %s: %w", c.Kind, c.QualifiedName(), err)
	}
	if c.Key, err = mppdbColumns(r.OldKeysName, r.OldKeysType, r.OldKeysVal); err != nil {
		return c, fmt.Errorf("mppdb_decoding %s %s old keys: %w", c.Kind, c.QualifiedName(), err)
	}
	if c.Kind == Delete && len(c.Key) == 0 {
		return c, fmt.Errorf("mppdb_decoding: DELETE on %s without key data: the table needs a primary key", c.QualifiedName())
	}
	return c, nil
}

func mppdbColumns(names, types, vals []string) ([]Column, error) {
	if len(names) != len(types) || len(names) != len(vals) {
		return nil, fmt.Errorf("%d names, %d types, %d values", len(names), len(types), len(vals))
	}
	cols := make([]Column, 0, len(names))
	for i, n := range names {
		name, j, err := scanIdent(n, 0, "")
		if err != nil || j != len(n) {
			return nil, fmt.Errorf("column name %q", n)
		}
		v, k, err := scanLiteral(vals[i], 0, 0)
		if err != nil || k != len(vals[i]) {
			return nil, fmt.Errorf("column %s: value %q is not an SQL literal", name, trim(vals[i]))
		}
		v.Name, v.Type = name, types[i]
		cols = append(cols, v)
	}
	return cols, nil
}
