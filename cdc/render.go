package cdc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// jsonColumn is a column in `cdc decode` output.
type jsonColumn struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Value     any    `json:"value"`
	Unchanged bool   `json:"unchanged_toast,omitempty"` // value not sent by the plugin
}

// jsonChange is one line of `cdc decode` output.
type jsonChange struct {
	LSN        string       `json:"lsn,omitempty"`
	XID        string       `json:"xid,omitempty"`
	Op         Kind         `json:"op"`
	CommitTime string       `json:"commit_time,omitempty"`
	Table      string       `json:"table,omitempty"`
	Key        []jsonColumn `json:"key,omitempty"`
	Columns    []jsonColumn `json:"columns,omitempty"`
}

func jsonColumns(cs []Column) []jsonColumn {
	out := make([]jsonColumn, len(cs))
	for i, c := range cs {
		out[i] = jsonColumn{Name: c.Name, Type: c.Type, Value: c.JSONValue(), Unchanged: c.Toast}
	}
	return out
}

// RenderJSON writes a change as one JSON line.
func RenderJSON(w io.Writer, c Change) error {
	j := jsonChange{XID: c.XID, Op: c.Kind, Table: c.QualifiedName(), Key: jsonColumns(c.Key), Columns: jsonColumns(c.Columns)}
	if c.LSN != 0 {
		j.LSN = c.LSN.String()
	}
	if !c.CommitTime.IsZero() {
		j.CommitTime = c.CommitTime.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// DecodeStream reads captured decoding output (one change per line) and writes the
// decoded changes as JSON lines. A line that does not decode stops it with an error
// naming the line number.
func DecodeStream(r io.Reader, w io.Writer, d Decoder) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n, line := 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || isPsqlDecoration(text) {
			continue
		}
		raw, err := ParseCaptured(text)
		if err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		c, err := d.Decode(raw)
		if err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		if err := RenderJSON(w, c); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("line %d: %w", line+1, err)
	}
	return n, nil
}

// isPsqlDecoration skips psql's header, rule and row-count lines.
func isPsqlDecoration(s string) bool {
	t := strings.TrimSpace(s)
	return strings.HasPrefix(t, "location") || strings.HasPrefix(t, "lsn ") || strings.HasPrefix(t, "---") ||
		strings.HasPrefix(t, "(") && strings.HasSuffix(t, "rows)") || t == "(1 row)"
}
