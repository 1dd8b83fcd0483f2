package gaussfront

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// toServer relays the client's messages to PostgreSQL. Simple queries (Q) and Parse
// messages (P) go through Translate. A refused statement is replaced by a DO block that
// raises openGauss's error, so that PostgreSQL itself answers it, in order, with the
// transaction state openGauss would leave (a failed statement aborts the block). A
// refused Parse becomes Parse, Bind and Execute of that block (their ParseComplete and
// BindComplete are not the client's: toClient drops them); the rest of the client's
// sequence up to its Sync is dropped, as the server would skip it, and the Sync goes
// through, so PostgreSQL always ends the sequence with the ReadyForQuery the client
// waits for (also when an earlier error already made it skip to the Sync).
func (s *session) toServer(cr *bufio.Reader) error {
	w := bufio.NewWriterSize(s.server, 64<<10)
	skipping := false
	var cur *batch // the extended-protocol sequence since the last Sync
	for {
		if cr.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		typ, body, err := readMessage(cr)
		if err != nil {
			w.Flush()
			return err
		}
		if typ == 'X' {
			w.Write(message(typ, body))
			w.Flush()
			return io.EOF
		}
		if cur == nil && typ != 'S' && typ != 'Q' && typ != 'H' {
			cur = &batch{}
		}
		if skipping && typ != 'S' {
			continue
		}
		switch typ {
		case 'Q':
			s.enqueue(cur)
			cur = nil
			if !s.replication || !isReplicationCommand(cstring(body)) {
				body = append([]byte(s.translate(cstring(body))), 0)
			}
		case 'd':
			if s.replication {
				var err error
				if body, err = statusToPostgres(body); err != nil {
					s.o.Log.Info("gauss front: refused a replication message", "err", err)
					w.Write(message('E', errorFields("ERROR", "08P01", err.Error(), "")))
					w.Flush()
					return err
				}
			}
		case 'S':
			skipping = false
			s.enqueue(cur)
			cur = nil
		case 'P':
			name, sql, rest, ok := splitParse(body)
			if !ok {
				break // malformed: PostgreSQL says so
			}
			out, ref := Translate(sql, s.o.Banner, s.uniqueColumns)
			if ref != nil {
				s.o.Log.Info("gauss front: refused", "rule", ref.Rule, "sql", clip(withoutLiterals(sql)))
				cur.injected, skipping = true, true
				for _, m := range refusalSequence(ref) {
					if _, err := w.Write(m); err != nil {
						return err
					}
				}
				continue
			}
			cur.parses++
			s.watch(out)
			body = append(append(append(append([]byte(name), 0), out...), 0), rest...)
		case 'B':
			cur.binds++
		}
		if _, err := w.Write(message(typ, body)); err != nil {
			return err
		}
	}
}

// batch is one sequence of the client's up to its ReadyForQuery: how many of its
// Parse and Bind messages went to PostgreSQL, and whether the front put a refusal's
// Parse and Bind after them.
type batch struct {
	parses, binds int
	injected      bool
	seenP, seenB  int // ParseComplete and BindComplete seen from PostgreSQL
}

func (s *session) enqueue(b *batch) {
	if b == nil {
		b = &batch{}
	}
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.mu.Unlock()
}

// fromFront reports whether a ParseComplete ('1') or BindComplete ('2') answers the
// front's own refusal rather than the client; a ReadyForQuery ('Z') ends a batch.
func (s *session) fromFront(typ byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.batches) == 0 {
		return false // the startup's ReadyForQuery
	}
	b := s.batches[0]
	switch typ {
	case '1':
		b.seenP++
		return b.injected && b.seenP > b.parses
	case '2':
		b.seenB++
		return b.injected && b.seenB > b.binds
	case 'Z':
		s.batches = s.batches[1:]
	}
	return false
}

// refusalSequence is the unnamed Parse, Bind and Execute of a refusal's DO block.
func refusalSequence(ref *Refusal) [][]byte {
	parse := append(append([]byte{0}, raiseSQL(ref)...), 0, 0, 0) // name "", query, 0 types
	bind := []byte{0, 0, 0, 0, 0, 0, 0, 0}                        // portal "", statement "", 0 formats, 0 params, 0 result formats
	execute := []byte{0, 0, 0, 0, 0}                              // portal "", all rows
	return [][]byte{message('P', parse), message('B', bind), message('E', execute)}
}

// translate is Translate for a simple query, with the refusal turned into SQL.
func (s *session) translate(sql string) string {
	out, ref := Translate(sql, s.o.Banner, s.uniqueColumns)
	if ref != nil {
		s.o.Log.Info("gauss front: refused", "rule", ref.Rule, "sql", clip(withoutLiterals(sql)))
		return raiseSQL(ref)
	}
	s.watch(out)
	return out
}

// watch notes a statement that changes a role's password, to be applied to the store
// when PostgreSQL confirms it.
func (s *session) watch(sql string) {
	if c := passwordChange(parse(sql), s.user); c != nil {
		s.mu.Lock()
		s.pending = append(s.pending, c)
		s.mu.Unlock()
	}
}

// confirmed applies the oldest pending role change when PostgreSQL completes a role
// command; failed forgets them (the statement did not happen).
func (s *session) confirmed(tag string) {
	s.mu.Lock()
	if len(s.pending) == 0 || s.pending[0].tag != tag {
		s.mu.Unlock()
		return
	}
	c := s.pending[0]
	s.pending = s.pending[1:]
	s.mu.Unlock()
	var err error
	switch {
	case len(c.drop) > 0:
		err = s.o.Users.Drop(c.drop...)
	case c.role != "":
		err = s.o.Users.SetPassword(c.role, c.password)
	}
	if err != nil {
		s.o.Log.Error("gauss front: password store", "role", c.role, "err", err.Error())
	}
}

func (s *session) failed() {
	s.mu.Lock()
	s.pending = nil
	s.mu.Unlock()
}

// toClient relays PostgreSQL's messages; it reads the server_version PostgreSQL
// reports as openGauss's, and watches role commands complete.
func (s *session) toClient() error {
	r := bufio.NewReaderSize(s.server, 64<<10)
	w := bufio.NewWriterSize(s.client, 64<<10)
	var head [5]byte
	var body1 [16]byte // ParseComplete and BindComplete are empty, ReadyForQuery one byte
	for {
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(r, head[:]); err != nil {
			w.Flush()
			return err
		}
		n := int64(binary.BigEndian.Uint32(head[1:])) - 4
		if n < 0 {
			return fmt.Errorf("server message %q of length %d", head[0], n+4)
		}
		kind := head[0]
		if (kind == '1' || kind == '2' || kind == 'Z') && n > int64(len(body1)) {
			kind = 0 // not what it says it is: relayed as is, PostgreSQL's client will see
		}
		if kind == 'd' && s.replication {
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return err
			}
			if _, err := w.Write(message('d', keepaliveToOpenGauss(body))); err != nil {
				return err
			}
			continue
		}
		switch kind {
		case '1', '2', 'Z':
			if _, err := io.ReadFull(r, body1[:n]); err != nil {
				return err
			}
			if s.fromFront(head[0]) {
				continue
			}
			if _, err := w.Write(head[:]); err != nil {
				return err
			}
			if _, err := w.Write(body1[:n]); err != nil {
				return err
			}
		case 'S', 'C', 'E':
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return err
			}
			switch head[0] {
			case 'S':
				if name, _, ok := cut0(body); ok && name == "server_version" {
					body = append([]byte("server_version\x00"+ServerVersion), 0)
				}
			case 'C':
				tag := cstring(body)
				s.confirmed(tag)
			case 'E':
				s.failed()
			}
			if _, err := w.Write(message(head[0], body)); err != nil {
				return err
			}
		default:
			if _, err := w.Write(head[:]); err != nil {
				return err
			}
			if _, err := io.CopyN(w, r, n); err != nil {
				return err
			}
		}
	}
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// splitParse reads a Parse message: statement name, query, and the parameter types.
func splitParse(body []byte) (name, sql string, rest []byte, ok bool) {
	name, after, ok := cut0(body)
	if !ok {
		return "", "", nil, false
	}
	sql, rest, ok = cut0(after)
	return name, sql, rest, ok
}

// raiseSQL makes PostgreSQL answer with a refusal's SQLSTATE, message and hint.
func raiseSQL(r *Refusal) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	sql := "DO $xckit_lab$BEGIN RAISE EXCEPTION USING ERRCODE = " + q(r.Code) + ", MESSAGE = " + q(r.Message)
	if r.Hint != "" {
		sql += ", HINT = " + q(r.Hint)
	}
	return sql + "; END$xckit_lab$"
}

// withoutLiterals hides every string literal of a statement (a password in CREATE ROLE
// never reaches the front's log).
func withoutLiterals(sql string) string {
	st := parse(sql)
	for i, t := range st.toks {
		if t.kind == tokString {
			st.toks[i].text = "'…'"
		}
	}
	return st.String()
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
