package gaussfront

import (
	"strings"
	"testing"
)

// Each rule of the lab's gauss, on the SQL the kit and its tests send: what openGauss
// refuses comes back with openGauss's error, openGauss's own spellings reach
// PostgreSQL rewritten, and everything else passes unchanged.
func TestTranslate(t *testing.T) {
	const banner = "(openGauss 5.0.0 build x) compiled at ..."
	cases := []struct {
		name, sql  string
		want       string // the SQL PostgreSQL gets ("" = unchanged)
		code, text string // the refusal
	}{
		{name: "plain", sql: "SELECT id FROM payments WHERE id = $1"},
		{name: "on conflict", sql: "INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO NOTHING", code: "42601", text: `syntax error at or near "CONFLICT"`},
		{name: "on conflict keeps the case typed", sql: "insert into t values (1) on conflict do nothing", code: "42601", text: `syntax error at or near "conflict"`},
		{name: "words in literals are data", sql: "SELECT 'ON CONFLICT', $$pg_current_wal_lsn()$$, E'version()' -- ON CONFLICT\n"},
		{name: "quoted identifiers are names", sql: `SELECT "confirmed_flush_lsn" FROM x`},
		{name: "identity column", sql: "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY)", code: "42601", text: `syntax error at or near "IDENTITY"`},
		{name: "with ordinality", sql: "SELECT * FROM unnest($1::int[]) WITH ORDINALITY", code: "42601", text: `syntax error at or near "ORDINALITY"`},
		{name: "wal function", sql: "SELECT pg_current_wal_lsn()::text", code: "42883", text: "function pg_current_wal_lsn() does not exist"},
		{name: "wal function with args", sql: "SELECT pg_catalog.pg_wal_lsn_diff($1, $2)", code: "42883", text: "function pg_wal_lsn_diff(...) does not exist"},
		{name: "array_position", sql: "SELECT array_position(conkey, a.attnum) FROM pg_constraint", code: "42883", text: "function array_position(...) does not exist"},
		{name: "a column of that name elsewhere", sql: "SELECT lsn FROM my_table"},
		{name: "PostgreSQL's slot column", sql: "SELECT confirmed_flush_lsn FROM pg_replication_slots", code: "42703", text: `column "confirmed_flush_lsn" does not exist`},
		{name: "PostgreSQL's peek column", sql: "SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2)", code: "42703", text: `column "lsn" does not exist`},
		{name: "openGauss's peek column", sql: "SELECT location::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2)",
			want: "SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2)"},
		{name: "openGauss's slot column", sql: "SELECT COALESCE(confirmed_flush::text, '') FROM pg_replication_slots WHERE slot_name = $1",
			want: "SELECT COALESCE(confirmed_flush_lsn::text, '') FROM pg_replication_slots WHERE slot_name = $1"},
		{name: "sessionid", sql: "SELECT count(pg_terminate_session(pid, sessionid)) FROM pg_stat_activity WHERE usename = $1",
			want: "SELECT count(pg_terminate_session(pid, pid)) FROM pg_stat_activity WHERE usename = $1"},
		{name: "rolsystemadmin", sql: "SELECT rolreplication, rolsystemadmin FROM pg_roles WHERE rolname = $1",
			want: "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = $1"},
		{name: "openGauss's replication columns", sql: "SELECT COALESCE(receiver_replay_location::text, '') FROM pg_stat_replication",
			want: "SELECT COALESCE(replay_lsn::text, '') FROM pg_stat_replication"},
		{name: "openGauss's own parameter", sql: "SHOW enable_slot_log", want: "SELECT 'off'::text AS enable_slot_log"},
		{name: "datcompatibility", sql: "SELECT datcompatibility, current_database() FROM pg_database",
			want: "SELECT 'PG'::name, current_database() FROM pg_database"},
		{name: "version", sql: "SELECT version()", want: "SELECT '" + banner + "'::text"},
		{name: "server_version", sql: "SHOW server_version", want: "SELECT '9.2.4'::text AS server_version"},
		{name: "upsert", sql: `INSERT INTO "accounts" ("id", "bal") VALUES ($1, $2) ON DUPLICATE KEY UPDATE "bal" = EXCLUDED."bal"`,
			want: `INSERT INTO "accounts" ("id", "bal") VALUES ($1, $2) ON CONFLICT ON CONSTRAINT "accounts_pkey" DO UPDATE SET "bal" = EXCLUDED."bal"`},
		{name: "upsert of a unique column", sql: `INSERT INTO accounts (id, iban, bal) VALUES ($1, $2, $3) ON DUPLICATE KEY UPDATE bal = EXCLUDED.bal, "iban" = EXCLUDED.iban`,
			code: "0A000", text: "don't allow update on primary key or unique key"},
		{name: "upsert of a qualified table", sql: `INSERT INTO s.Accounts (id) VALUES (1) ON DUPLICATE KEY UPDATE NOTHING`,
			want: `INSERT INTO s.Accounts (id) VALUES (1) ON CONFLICT DO NOTHING`},
		{name: "PG compatibility", sql: `CREATE DATABASE "payd" OWNER "pay" ENCODING 'UTF8' TEMPLATE template0 DBCOMPATIBILITY 'PG'`,
			want: `CREATE DATABASE "payd" OWNER "pay" ENCODING 'UTF8' TEMPLATE template0 `},
		{name: "A compatibility", sql: `CREATE DATABASE d DBCOMPATIBILITY = 'A'`, code: "0A000", text: "DBCOMPATIBILITY 'A' cannot be reproduced"},
		{name: "the default compatibility is A", sql: `CREATE DATABASE d OWNER pay`, code: "0A000", text: "without DBCOMPATIBILITY makes an A-mode database"},
		{name: "weak password", sql: `CREATE ROLE bob LOGIN PASSWORD 'abc'`, code: "28P01", text: "Password must contain at least 8 characters."},
		{name: "two kinds", sql: `ALTER ROLE bob PASSWORD 'abcdefgh1'`, code: "28P01", text: "Password must contain at least three kinds of characters."},
		{name: "password is the name", sql: `ALTER USER "Abc-1234" PASSWORD 'Abc-1234'`, code: "28P01", text: "Password should not equal to the rolname."},
		{name: "strong password", sql: `ALTER ROLE bob PASSWORD 'Abc-1234'`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ref := Translate(c.sql, banner, func(table string) ([]string, error) {
				return map[string][]string{"accounts": {"id", "iban"}}[table], nil
			})
			if c.code != "" {
				if ref == nil || ref.Code != c.code || !strings.Contains(ref.Message, c.text) {
					t.Fatalf("want refusal %s %q, got %v (sql %q)", c.code, c.text, ref, got)
				}
				return
			}
			if ref != nil {
				t.Fatalf("refused: %v", ref)
			}
			want := c.want
			if want == "" {
				want = c.sql
			}
			if got != want {
				t.Errorf("\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestPasswordChange(t *testing.T) {
	cases := []struct {
		sql        string
		role, pass string
		drop       []string
	}{
		{sql: "CREATE ROLE xckit_cdc LOGIN REPLICATION PASSWORD 'It''s-1234'", role: "xckit_cdc", pass: "It's-1234"},
		{sql: `ALTER USER "Pay" WITH ENCRYPTED PASSWORD 'Xy-123456'`, role: "Pay", pass: "Xy-123456"},
		{sql: "CREATE USER app IDENTIFIED BY 'Xy-123456'", role: "app", pass: "Xy-123456"},
		{sql: "ALTER ROLE app PASSWORD NULL", role: "app", drop: []string{"app"}},
		{sql: "DROP ROLE IF EXISTS a, \"B\"", drop: []string{"a", "B"}},
		{sql: "ALTER ROLE app SET search_path = payd"},
		{sql: "ALTER ROLE CURRENT_USER PASSWORD 'Me-pw-1234'", role: "me", pass: "Me-pw-1234"},
		{sql: "CREATE USER MAPPING FOR pay SERVER s OPTIONS (password 'x')"},
		{sql: "SELECT 'CREATE ROLE x PASSWORD ''y'''"},
	}
	for _, c := range cases {
		got := passwordChange(parse(c.sql), "me")
		if c.role == "" && c.drop == nil { // nothing to store (a role command or none)
			if got != nil && (got.role != "" || got.password != "" || got.drop != nil) {
				t.Errorf("%q: %+v", c.sql, got)
			}
			continue
		}
		if got == nil || got.role != c.role || got.password != c.pass || strings.Join(got.drop, ",") != strings.Join(c.drop, ",") {
			t.Errorf("%q: %+v", c.sql, got)
		}
	}
}

// lex gives its input back whole, whatever it is.
func FuzzLex(f *testing.F) {
	for _, s := range []string{"SELECT 'a''b', E'\\'', $x$ $ $x$, \"q\"\"\" /* /* */ */ -- c\n 1.5e-3 $1", "'", "$$", "/*", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := parse(s)
		if st.String() != s {
			t.Fatalf("lex lost text: %q -> %q", s, st.String())
		}
	})
}
