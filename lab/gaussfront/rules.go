package gaussfront

import (
	"fmt"
	"strings"
)

// Refusal is the error openGauss gives for SQL it does not have, as the front sends it.
type Refusal struct {
	Code    string // SQLSTATE
	Message string
	Hint    string
	Rule    string // which rule refused it (for tests and the lab's log)
}

func (r *Refusal) Error() string { return fmt.Sprintf("ERROR: %s (SQLSTATE %s)", r.Message, r.Code) }

// Every SQL difference the lab's gauss reproduces, in one place, each with where
// openGauss shows it. Refusals are checked on the client's text first; rewrites then
// turn openGauss's own spellings into PostgreSQL's, so that the kit's openGauss SQL
// runs on the PostgreSQL underneath. docs/opengauss.md lists the same table.

// refusedFunctions are PostgreSQL functions openGauss does not have: its catalog
// (src/common/backend/catalog/builtin_funcs.ini) keeps the 9.2 names
// pg_current_xlog_location, pg_xlog_location_diff, ... and has no array_position.
var refusedFunctions = []string{
	"pg_current_wal_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn",
	"pg_wal_lsn_diff", "pg_last_wal_receive_lsn", "pg_last_wal_replay_lsn",
	"pg_walfile_name", "pg_walfile_name_offset", "pg_switch_wal",
	"array_position", "array_positions",
}

// refusedColumns are PostgreSQL column names whose openGauss spelling differs; the
// statement is refused only where it names the catalog that has them.
var refusedColumns = []struct{ column, catalog, openGauss string }{
	// openGauss's pg_replication_slots has confirmed_flush (from 3.0.3), not
	// confirmed_flush_lsn (src/common/backend/catalog/system_views.sql).
	{"confirmed_flush_lsn", "pg_replication_slots", "confirmed_flush"},
	// pg_logical_slot_{peek,get}_changes return (location, xid, data) on openGauss
	// (builtin_funcs.ini), (lsn, xid, data) on PostgreSQL 10+.
	{"lsn", "pg_logical_slot_peek_changes", "location"},
	{"lsn", "pg_logical_slot_get_changes", "location"},
}

// renames are openGauss column names the PostgreSQL underneath lacks, with the
// PostgreSQL expression that stands for them, where the statement names the catalog.
var renames = []struct{ column, catalog, postgres string }{
	{"confirmed_flush", "pg_replication_slots", "confirmed_flush_lsn"},
	{"location", "pg_logical_slot_peek_changes", "lsn"},
	{"location", "pg_logical_slot_get_changes", "lsn"},
	// pg_stat_activity.sessionid (openGauss, thread pool aware): without a thread
	// pool a session is its backend, so the pid stands for it.
	{"sessionid", "pg_stat_activity", "pid"},
	// pg_roles.rolsystemadmin: the lab's administrators are PostgreSQL superusers.
	{"rolsystemadmin", "pg_roles", "rolsuper"},
	// pg_database.datcompatibility: the lab's databases are all PG-compatible (A, B
	// and C modes cannot be reproduced on PostgreSQL; see DBCOMPATIBILITY below).
	{"datcompatibility", "pg_database", "'PG'::name"},
	// pg_stat_replication names its positions after the sender and the receiver on
	// openGauss (system_views.sql: sender_sent_location, receiver_write_location,
	// receiver_flush_location, receiver_replay_location).
	{"sender_sent_location", "pg_stat_replication", "sent_lsn"},
	{"receiver_write_location", "pg_stat_replication", "write_lsn"},
	{"receiver_flush_location", "pg_stat_replication", "flush_lsn"},
	{"receiver_replay_location", "pg_stat_replication", "replay_lsn"},
}

// openGaussSettings are openGauss parameters PostgreSQL lacks, with the value the
// lab's gauss shows for SHOW (openGauss's defaults, guc.cpp): enable_slot_log off
// (logical slots stay on the primary, as on the PostgreSQL underneath),
// most_available_sync off, archive_dest empty.
var openGaussSettings = map[string]string{
	"enable_slot_log": "off", "most_available_sync": "off", "archive_dest": "",
}

// UniqueColumns tells the columns of a table's unique indexes (its primary key's
// included) in the client's database.
type UniqueColumns func(table string) ([]string, error)

// Translate returns the SQL to hand to PostgreSQL for a statement a client sent to
// the lab's gauss, or the error openGauss would give for it. banner is what version()
// returns; uniq (may be nil) reads a table's unique columns.
func Translate(sql, banner string, uniq UniqueColumns) (string, *Refusal) {
	st := parse(sql)
	if r := refuse(st); r != nil {
		return "", r
	}
	if r := upsertOfUniqueKey(st, uniq); r != nil {
		return "", r
	}
	if r := dbCompatibility(st); r != nil {
		return "", r
	}
	changed := false
	for k := range st.sig {
		if rewrite(st, k, banner) {
			changed = true
		}
	}
	if !changed {
		return sql, nil
	}
	return st.String(), nil
}

func syntaxError(near, rule string) *Refusal {
	return &Refusal{Code: "42601", Message: fmt.Sprintf("syntax error at or near %q", near), Rule: rule}
}

func refuse(st *statement) *Refusal {
	if c := passwordChange(st, ""); c != nil && c.role != "" && len(c.drop) == 0 {
		if msg := weakPassword(c.role, c.password); msg != "" {
			return &Refusal{Code: "28P01", Message: msg, Rule: "password-policy"}
		}
	}
	for k := range st.sig {
		t := st.at(k)
		if t.kind != tokWord {
			continue
		}
		switch {
		case st.seq(k, "on", "conflict"):
			// gram.y has ON DUPLICATE KEY UPDATE as its upsert, no ON CONFLICT.
			return syntaxError(st.at(k+1).text, "on-conflict")
		case st.seq(k, "with", "ordinality"):
			return syntaxError(st.at(k+1).text, "with-ordinality")
		case st.seq(k, "as", "identity"):
			// GENERATED ... AS IDENTITY: openGauss's column constraints have no identity.
			return syntaxError(st.at(k+1).text, "identity-column")
		}
		if st.at(k+1).text == "(" && st.at(k-1).text != "." || st.at(k+1).text == "(" && st.at(k-2).word("pg_catalog") {
			for _, f := range refusedFunctions {
				if t.word(f) {
					args := "..."
					if st.at(k+2).text == ")" {
						args = ""
					}
					return &Refusal{Code: "42883", Message: fmt.Sprintf("function %s(%s) does not exist", t.lower(), args),
						Hint: "No function matches the given name and argument types. You might need to add explicit type casts.", Rule: "function:" + f}
				}
			}
		}
		for _, c := range refusedColumns {
			if t.word(c.column) && st.at(k+1).text != "(" && st.mentions(c.catalog) {
				return &Refusal{Code: "42703", Message: fmt.Sprintf("column %q does not exist", c.column), Rule: "column:" + c.column}
			}
		}
	}
	return nil
}

// rewrite changes the k-th significant token where openGauss's SQL needs PostgreSQL's
// spelling; it reports whether it changed anything.
func rewrite(st *statement, k int, banner string) bool {
	t := st.at(k)
	if t.kind != tokWord {
		return false
	}
	switch {
	case t.word("dbcompatibility"):
		// Checked by dbCompatibility: 'PG', which PostgreSQL's semantics are. Removed.
		n := 2
		if st.at(k+1).text == "=" {
			n = 3
		}
		st.replace(k, n, "")
		return true
	case k == 0 && t.word("show") && (st.at(1).word("server_version") || st.at(1).word("server_version_num")):
		// openGauss reports its 9.2.4 base (as in the startup's ParameterStatus).
		v := ServerVersion
		if st.at(1).word("server_version_num") {
			v = ServerVersionNum
		}
		st.replace(0, 2, fmt.Sprintf("SELECT '%s'::text AS %s", v, st.at(1).lower()))
		return true
	case k == 0 && t.word("show") && st.at(1).kind == tokWord && hasSetting(st.at(1).lower()):
		name := st.at(1).lower()
		st.replace(0, 2, fmt.Sprintf("SELECT '%s'::text AS %s", openGaussSettings[name], name))
		return true
	case t.word("version") && st.at(k+1).text == "(" && st.at(k+2).text == ")":
		st.replace(k, 3, "'"+strings.ReplaceAll(banner, "'", "''")+"'::text")
		return true
	case st.seq(k, "on", "duplicate", "key", "update", "nothing"):
		st.replace(k, 5, "ON CONFLICT DO NOTHING")
		return true
	case st.seq(k, "on", "duplicate", "key", "update"):
		table := insertTarget(st, k)
		if table == "" {
			return false // left to PostgreSQL's parser: a syntax error, loudly
		}
		st.replace(k, 4, fmt.Sprintf(`ON CONFLICT ON CONSTRAINT "%s" DO UPDATE SET`, strings.ReplaceAll(table+"_pkey", `"`, `""`)))
		return true
	}
	if st.at(k+1).text == "(" {
		return false
	}
	for _, r := range renames {
		if t.word(r.column) && st.mentions(r.catalog) {
			st.set(k, r.postgres)
			return true
		}
	}
	return false
}

// upsertOfUniqueKey: openGauss's ON DUPLICATE KEY UPDATE may not set a column of the
// primary key or of a unique index (src/gausskernel/optimizer/..., "INSERT ON DUPLICATE
// KEY UPDATE don't allow update on primary key or unique key."); PostgreSQL's ON
// CONFLICT may, so the lab refuses it here. The SQLSTATE is the lab's choice.
func upsertOfUniqueKey(st *statement, uniq UniqueColumns) *Refusal {
	if uniq == nil {
		return nil
	}
	for k := range st.sig {
		if !st.seq(k, "on", "duplicate", "key", "update") || st.at(k+4).word("nothing") {
			continue
		}
		table := insertTarget(st, k)
		if table == "" {
			return nil
		}
		keys, err := uniq(table)
		if err != nil {
			return nil // PostgreSQL will say what is wrong with the table
		}
		for _, c := range setTargets(st, k+4) {
			for _, u := range keys {
				if c == u {
					return &Refusal{Code: "0A000", Rule: "upsert-unique-key", Message: "INSERT ON DUPLICATE KEY UPDATE don't allow update on primary key or unique key."}
				}
			}
		}
	}
	return nil
}

// setTargets are the columns an UPDATE SET list from position k assigns (col = ...,
// at parenthesis depth 0).
func setTargets(st *statement, k int) []string {
	var out []string
	depth := 0
	for ; k < len(st.sig); k++ {
		t := st.at(k)
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		}
		if depth == 0 && (t.kind == tokWord || t.kind == tokQuoted) && st.at(k+1).text == "=" &&
			(st.at(k-1).text == "," || st.at(k-1).word("update")) {
			out = append(out, identName(t))
		}
	}
	return out
}

// insertTarget is the unquoted name of the table of the INSERT before position k.
func insertTarget(st *statement, k int) string {
	for j := k - 1; j >= 1; j-- {
		if st.at(j).word("into") && st.at(j-1).word("insert") {
			n := j + 1
			if st.at(n+1).text == "." {
				n += 2
			}
			switch t := st.at(n); t.kind {
			case tokWord:
				return t.lower()
			case tokQuoted:
				return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`)
			}
			return ""
		}
	}
	return ""
}

// dbCompatibility: CREATE DATABASE ... DBCOMPATIBILITY [=] 'mode' is openGauss's; the
// lab keeps 'PG' (removed, PostgreSQL's semantics are PG's) and refuses the others,
// which PostgreSQL cannot reproduce.
func dbCompatibility(st *statement) *Refusal {
	if st.seq(0, "create", "database") && !st.mentions("dbcompatibility") {
		// openGauss makes it in template0's mode, A unless gs_initdb was told otherwise.
		return &Refusal{Code: "0A000", Rule: "dbcompatibility",
			Message: "xckit lab: CREATE DATABASE without DBCOMPATIBILITY makes an A-mode database on openGauss (template0's mode), which the lab cannot reproduce",
			Hint:    "say DBCOMPATIBILITY 'PG' (xckit install does), or run xckit selftest on a real openGauss"}
	}
	for k := range st.sig {
		if !st.at(k).word("dbcompatibility") {
			continue
		}
		v := st.at(k + 1)
		if v.text == "=" {
			v = st.at(k + 2)
		}
		mode := strings.Trim(v.text, "'")
		if !strings.EqualFold(mode, "PG") {
			return &Refusal{Code: "0A000", Rule: "dbcompatibility",
				Message: fmt.Sprintf("xckit lab: DBCOMPATIBILITY '%s' cannot be reproduced on the PostgreSQL behind the lab's gauss (only 'PG' can)", mode),
				Hint:    "give the lab's profile database.compatibility: PG; A, B and C modes are covered by fixtures, and by xckit selftest on a real openGauss"}
		}
	}
	return nil
}

// passwordSpecials are the special characters openGauss's password policy allows.
const passwordSpecials = "~!@#$%^&*()-_=+\\|[{}];:,<.>/?"

// weakPassword applies openGauss's default password policy (password_policy=1,
// password_min_length=8, password_max_length=32: src/gausskernel/optimizer/commands/
// user.cpp, IsPasswdSatisfyPolicy), in its order and with its messages.
func weakPassword(role, pw string) string {
	if len(pw) < 8 {
		return "Password must contain at least 8 characters."
	}
	if len(pw) > 32 {
		return "Password can't contain more than 32 characters."
	}
	var upper, lower, digit, special bool
	for _, c := range pw {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		case strings.ContainsRune(passwordSpecials, c):
			special = true
		default:
			return "Password cannot contain characters except numbers, alphabetic characters and specified special characters."
		}
	}
	kinds := 0
	for _, b := range []bool{upper, lower, digit, special} {
		if b {
			kinds++
		}
	}
	if kinds < 3 {
		return "Password must contain at least three kinds of characters."
	}
	if strings.EqualFold(pw, role) {
		return "Password should not equal to the rolname."
	}
	return ""
}

func hasSetting(name string) bool { _, ok := openGaussSettings[name]; return ok }
