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
// messages (P) go through Translate: a refused statement becomes a DO block that
// raises openGauss's error, so that PostgreSQL itself answers it in order, with the
// transaction state openGauss would leave (a failed statement aborts the block); the
// rest of a refused extended-protocol sequence, up to its Sync, is dropped as the
// server would skip it.
func (s *session) toServer(cr *bufio.Reader) error {
	w := bufio.NewWriterSize(s.server, 64<<10)
	skipping := false
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
		if skipping {
			switch typ {
			case 'S':
				skipping = false
			case 'X':
				w.Write(message(typ, body))
				w.Flush()
				return io.EOF
			}
			continue
		}
		switch typ {
		case 'Q':
			body = append([]byte(s.translate(cstring(body))), 0)
		case 'P':
			name, sql, rest, ok := splitParse(body)
			if !ok {
				break // malformed: PostgreSQL says so
			}
			out, ref := Translate(sql, s.o.Banner)
			if ref != nil {
				s.o.Log.Info("gauss front: refused", "rule", ref.Rule, "sql", clip(sql))
				typ, body, skipping = 'Q', append([]byte(raiseSQL(ref)), 0), true
				break
			}
			s.watch(out)
			body = append(append(append(append([]byte(name), 0), out...), 0), rest...)
		case 'X':
			w.Write(message(typ, body))
			w.Flush()
			return io.EOF
		}
		if _, err := w.Write(message(typ, body)); err != nil {
			return err
		}
	}
}

// translate is Translate for a simple query, with the refusal turned into SQL.
func (s *session) translate(sql string) string {
	out, ref := Translate(sql, s.o.Banner)
	if ref != nil {
		s.o.Log.Info("gauss front: refused", "rule", ref.Rule, "sql", clip(sql))
		return raiseSQL(ref)
	}
	s.watch(out)
	return out
}

// watch notes a statement that changes a role's password, to be applied to the store
// when PostgreSQL confirms it.
func (s *session) watch(sql string) {
	if c := passwordChange(parse(sql)); c != nil {
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
		switch head[0] {
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

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
