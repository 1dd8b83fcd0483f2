package gaussfront

import (
	"strings"
)

// tokKind is what a piece of SQL text is, as far as the guard and the rewrites care.
type tokKind int

const (
	tokSpace  tokKind = iota // whitespace and comments
	tokWord                  // identifier or keyword, unquoted
	tokQuoted                // "quoted identifier"
	tokString                // 'literal', E'literal', $tag$literal$tag$
	tokNumber                // 12, 1.5e3
	tokParam                 // $1
	tokPunct                 // one character of anything else
)

type token struct {
	kind tokKind
	text string
}

// lower is the token's text in lower case for words, unchanged otherwise.
func (t token) lower() string {
	if t.kind == tokWord {
		return strings.ToLower(t.text)
	}
	return t.text
}

// word reports whether t is the unquoted word w (case-insensitive).
func (t token) word(w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

// lex splits SQL text into tokens whose texts, joined, give the input back unchanged.
// It knows PostgreSQL's (and openGauss's) lexical rules well enough never to look
// inside a literal or a comment: standard-conforming strings, E” strings with
// backslash escapes, dollar quoting, nested block comments.
func lex(sql string) []token {
	var out []token
	i := 0
	emit := func(k tokKind, j int) {
		out = append(out, token{k, sql[i:j]})
		i = j
	}
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			j := i + 1
			for j < len(sql) && strings.IndexByte(" \t\n\r\f", sql[j]) >= 0 {
				j++
			}
			emit(tokSpace, j)
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			emit(tokSpace, i+j)
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			emit(tokSpace, blockComment(sql, i))
		case c == '\'':
			emit(tokString, quoted(sql, i+1, '\'', false))
		case (c == 'E' || c == 'e') && i+1 < len(sql) && sql[i+1] == '\'':
			emit(tokString, quoted(sql, i+2, '\'', true))
		case c == '"':
			emit(tokQuoted, quoted(sql, i+1, '"', false))
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			emit(tokParam, j)
		case c == '$':
			if j, ok := dollarQuoted(sql, i); ok {
				emit(tokString, j)
			} else {
				emit(tokPunct, i+1)
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			emit(tokWord, j)
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i + 1
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' ||
				(sql[j] == '-' || sql[j] == '+') && (sql[j-1] == 'e' || sql[j-1] == 'E')) {
				j++
			}
			emit(tokNumber, j)
		default:
			emit(tokPunct, i+1)
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

// quoted returns the end of a quoted run starting after its opening quote q; a doubled
// quote stands for itself, a backslash escapes the next byte when backslashes is set.
// An unterminated run ends at the end of the text (the server reports it).
func quoted(sql string, j int, q byte, backslashes bool) int {
	for j < len(sql) {
		switch {
		case backslashes && sql[j] == '\\':
			j += 2
		case sql[j] == q && j+1 < len(sql) && sql[j+1] == q:
			j += 2
		case sql[j] == q:
			return j + 1
		default:
			j++
		}
	}
	return len(sql)
}

func blockComment(sql string, i int) int {
	depth, j := 0, i
	for j < len(sql) {
		switch {
		case strings.HasPrefix(sql[j:], "/*"):
			depth++
			j += 2
		case strings.HasPrefix(sql[j:], "*/"):
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(sql)
}

// dollarQuoted reads $tag$ ... $tag$ starting at i.
func dollarQuoted(sql string, i int) (int, bool) {
	j := i + 1
	for j < len(sql) && sql[j] != '$' {
		if !isIdentPart(sql[j]) || sql[j] == '$' {
			return 0, false
		}
		j++
	}
	if j >= len(sql) {
		return 0, false
	}
	tag := sql[i : j+1]
	end := strings.Index(sql[j+1:], tag)
	if end < 0 {
		return len(sql), true
	}
	return j + 1 + end + len(tag), true
}

// statement is a lexed SQL text with its significant tokens (no spaces or comments)
// indexed, for matching sequences of words.
type statement struct {
	toks []token
	sig  []int // indexes into toks of the significant tokens
}

func parse(sql string) *statement {
	st := &statement{toks: lex(sql)}
	for i, t := range st.toks {
		if t.kind != tokSpace {
			st.sig = append(st.sig, i)
		}
	}
	return st
}

// at is the k-th significant token (a zero token past the end).
func (st *statement) at(k int) token {
	if k < 0 || k >= len(st.sig) {
		return token{}
	}
	return st.toks[st.sig[k]]
}

// seq reports whether the significant tokens from k on are the given words.
func (st *statement) seq(k int, words ...string) bool {
	for i, w := range words {
		if !st.at(k + i).word(w) {
			return false
		}
	}
	return true
}

// mentions reports whether any unquoted word of the statement is w.
func (st *statement) mentions(w string) bool {
	for _, k := range st.sig {
		if st.toks[k].word(w) {
			return true
		}
	}
	return false
}

// set replaces the k-th significant token's text.
func (st *statement) set(k int, text string) { st.toks[st.sig[k]].text = text }

// replace puts text in place of n significant tokens from k on (and what lies between
// them).
func (st *statement) replace(k, n int, text string) {
	last := min(k+n-1, len(st.sig)-1)
	for i := st.sig[k]; i <= st.sig[last]; i++ {
		st.toks[i].text = ""
	}
	st.toks[st.sig[k]].text = text
}

func (st *statement) String() string {
	var b strings.Builder
	for _, t := range st.toks {
		b.WriteString(t.text)
	}
	return b.String()
}
