package cdc

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Decoder turns one row of a plugin's output into a change.
type Decoder interface {
	Plugin() string
	Decode(raw RawChange) (Change, error)
	// Options are the plugin options xckit's reader passes to the peek function.
	Options() []string
}

var decoders = map[string]Decoder{}

// register adds a decoder; plugins are looked up by name.
func register(d Decoder) { decoders[d.Plugin()] = d }

func init() {
	register(testDecoding{})
	register(mppdbDecoding{})
	register(wal2jsonDecoder{})
}

// DecoderFor returns the decoder of a logical decoding plugin.
func DecoderFor(plugin string) (Decoder, error) {
	if d, ok := decoders[plugin]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no decoder for plugin %q: xckit decodes %s", plugin, strings.Join(Plugins(), ", "))
}

// Plugins lists the plugins xckit decodes.
func Plugins() []string {
	var names []string
	for n := range decoders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var peekLine = regexp.MustCompile(`^\s*([0-9A-Fa-f]+/[0-9A-Fa-f]+)\s*\|\s*(\d+)\s*\|\s?(.*)$`)

// ParseCaptured reads one captured line: either `location | xid | data` as psql prints
// pg_logical_slot_peek_changes, or the data column alone.
func ParseCaptured(line string) (RawChange, error) {
	if m := peekLine.FindStringSubmatch(line); m != nil {
		lsn, err := ParseLSN(m[1])
		if err != nil {
			return RawChange{}, err
		}
		return RawChange{LSN: lsn, XID: m[2], Data: m[3]}, nil
	}
	return RawChange{Data: line}, nil
}

// --- identifier and literal scanning shared by the text formats ---

// scanIdent reads an SQL identifier at s[i:]: "quoted" (with "" for a quote) or bare up
// to one of the stop bytes. It returns the identifier and the index after it.
func scanIdent(s string, i int, stops string) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] == '"' {
				if j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				return b.String(), j + 1, nil
			}
			b.WriteByte(s[j])
		}
		return "", 0, fmt.Errorf("unterminated quoted identifier at %d", i)
	}
	j := i
	for j < len(s) && !strings.ContainsRune(stops, rune(s[j])) {
		j++
	}
	if j == i {
		return "", 0, fmt.Errorf("expected an identifier at %d", i)
	}
	return s[i:j], j, nil
}

// splitQualified reads schema.table where either part may be quoted.
func splitQualified(name string) (string, string, error) {
	first, i, err := scanIdent(name, 0, ".")
	if err != nil {
		return "", "", fmt.Errorf("table name %q: %w", name, err)
	}
	if i == len(name) {
		return "", first, nil
	}
	if name[i] != '.' {
		return "", "", fmt.Errorf("table name %q: unexpected %q", name, name[i:])
	}
	second, j, err := scanIdent(name, i+1, "")
	if err != nil || j != len(name) {
		return "", "", fmt.Errorf("table name %q: not schema.table", name)
	}
	return first, second, nil
}

// scanLiteral reads an SQL literal as the plugins print it: 'text' with doubled
// quotes, or a bare word (number, true/false, null, unchanged-toast-datum, B'0101').
// stop ends a bare word.
func scanLiteral(s string, i int, stop byte) (Column, int, error) {
	if i < len(s) && s[i] == '\'' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				return Column{Text: b.String()}, j + 1, nil
			}
			b.WriteByte(s[j])
		}
		return Column{}, 0, fmt.Errorf("unterminated string literal at %d", i)
	}
	j := i
	for j < len(s) && s[j] != stop {
		if s[j] == '\'' { // B'0101'
			k := strings.IndexByte(s[j+1:], '\'')
			if k < 0 {
				return Column{}, 0, fmt.Errorf("unterminated literal at %d", j)
			}
			j += k + 2
			continue
		}
		j++
	}
	word := s[i:j]
	if word == "" {
		return Column{}, 0, fmt.Errorf("missing value at %d", i)
	}
	switch word {
	case "null":
		return Column{Null: true}, j, nil
	case toastUnchanged:
		return Column{Toast: true}, j, nil
	}
	if strings.HasPrefix(word, "B'") || strings.HasPrefix(word, "X'") {
		word = word[2 : len(word)-1]
	}
	return Column{Text: word}, j, nil
}

// txnBoundary reads the transaction lines test_decoding and mppdb_decoding share:
// "BEGIN [xid]" and "COMMIT [xid] [(at <timestamptz>)] [CSN <csn>]". ok is false for
// any other line.
func txnBoundary(plugin, d string, c *Change) (ok bool, err error) {
	switch {
	case d == "BEGIN" || strings.HasPrefix(d, "BEGIN "):
		c.Kind = Begin
		if x := strings.TrimSpace(strings.TrimPrefix(d, "BEGIN")); x != "" {
			c.XID = x
		}
		return true, nil
	case d == "COMMIT" || strings.HasPrefix(d, "COMMIT "):
		c.Kind = Commit
		rest := strings.TrimSpace(strings.TrimPrefix(d, "COMMIT"))
		if x, tail, _ := strings.Cut(rest, " "); x != "" && x != "CSN" && !strings.HasPrefix(x, "(") {
			c.XID, rest = x, tail
		}
		if ts, found := between(rest, "(at ", ")"); found {
			t, err := parseTimestamp(ts, true)
			if err != nil {
				return true, fmt.Errorf("%s COMMIT: %w", plugin, err)
			}
			c.CommitTime = t
		}
		if plugin == "mppdb_decoding" && !strings.Contains(rest, "CSN") {
			return true, fmt.Errorf("mppdb_decoding: COMMIT without CSN: %q", trim(d))
		}
		return true, nil
	}
	return false, nil
}

// ErrNotReplicated marks a change the CDC does not carry (TRUNCATE, DDL): the run stops
// there, loudly, with what to do.
var ErrNotReplicated = errors.New("not replicated")

// notReplicated is the error for a TRUNCATE or DDL in the stream: what it was, where,
// and the way forward (the legacy side does not have it; the slot cannot skip it).
func notReplicated(plugin string, raw RawChange, what, tables, stmt string) error {
	subject := what
	if tables != "" {
		subject += " of " + tables
	}
	if stmt != "" {
		if len(stmt) > 400 {
			stmt = stmt[:400] + "…"
		}
		subject += " (" + stmt + ")"
	}
	return fmt.Errorf("%s: %s at %s is %w by xckit's CDC, which carries only INSERT, UPDATE and DELETE. The run stops here so that "+
		"legacy is not silently different: apply the same %s to the legacy database by hand, then re-create the slot "+
		"(xckit cdc drop, xckit cdc init) and compare (xckit verify --repair) before cdc run again", plugin, subject, raw.LSN, ErrNotReplicated, what)
}
