package gaussfront

import "strings"

// roleChange is a statement that sets or drops roles' passwords, seen on its way to
// PostgreSQL; the front applies it to its store when the server confirms it.
type roleChange struct {
	tag      string // the CommandComplete tag that confirms it: CREATE ROLE, ALTER ROLE, DROP ROLE
	role     string
	password string   // set this password (when drop is empty)
	drop     []string // forget these roles
}

// passwordChange recognises CREATE/ALTER ROLE|USER name ... [ENCRYPTED] PASSWORD 'pw'
// (or openGauss's IDENTIFIED BY 'pw'), and DROP ROLE|USER [IF EXISTS] a, b.
//
// Every other CREATE/ALTER/DROP ROLE|USER statement is a change with nothing to store,
// so that each role command PostgreSQL completes pops its own entry. CURRENT_USER and
// SESSION_USER name the session's user (sessionUser).
func passwordChange(st *statement, sessionUser string) *roleChange {
	verb := st.at(0)
	if !st.at(1).word("role") && !st.at(1).word("user") || st.at(2).word("mapping") {
		return nil
	}
	switch {
	case verb.word("drop"):
		k := 2
		if st.seq(k, "if", "exists") {
			k += 2
		}
		c := &roleChange{tag: "DROP ROLE"}
		for ; k < len(st.sig); k += 2 {
			if n := identName(st.at(k)); n != "" {
				c.drop = append(c.drop, n)
			}
			if st.at(k+1).text != "," {
				break
			}
		}
		return c
	case verb.word("create") || verb.word("alter"):
		role := identName(st.at(2))
		if st.at(2).word("current_user") || st.at(2).word("session_user") {
			role = sessionUser
		}
		c := &roleChange{tag: strings.ToUpper(verb.text) + " ROLE"}
		if role == "" {
			return c
		}
		c.role = role
		for k := 3; k < len(st.sig); k++ {
			var lit token
			switch {
			case st.at(k).word("password"):
				lit = st.at(k + 1)
				if lit.word("null") {
					c.drop = []string{role}
					return c
				}
			case st.seq(k, "identified", "by"):
				lit = st.at(k + 2)
			default:
				continue
			}
			if lit.kind != tokString || !strings.HasPrefix(lit.text, "'") {
				return &roleChange{tag: c.tag}
			}
			c.password = strings.ReplaceAll(lit.text[1:len(lit.text)-1], "''", "'")
			return c
		}
		return &roleChange{tag: c.tag} // no password: nothing to store
	}
	return nil
}

// identName is the role name a token spells: unquoted words fold to lower case.
func identName(t token) string {
	switch t.kind {
	case tokWord:
		return t.lower()
	case tokQuoted:
		return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`)
	}
	return ""
}
