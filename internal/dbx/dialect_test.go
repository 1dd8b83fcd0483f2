package dbx

import (
	"strings"
	"testing"
)

func TestDetectDialect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fam     Family
		banner  string
		engine  Engine
		version string
		major   int
	}{
		// Banners quoted in testdata/opengauss-decoding-samples.md.
		{FamilyPostgres, "(openGauss 5.0.0 build a07d57c3) compiled at 2023-03-29 03:07:56 commit 0 last mr  ", OpenGauss, "5.0.0", 5},
		{FamilyPostgres, "(openGauss-lite 7.0.0-RC3 build ) compiled at 2026-04-21 15:29:26 commit 0 last mr  ", OpenGauss, "7.0.0-RC3", 7},
		{FamilyPostgres, "(GaussDB Kernel V500R002C20 build ...)", OpenGauss, "V500R002C20", 500},
		{FamilyPostgres, "PostgreSQL 9.2.4 (openGauss 5.0.0 build 123) on x86_64-unknown-linux-gnu", OpenGauss, "5.0.0", 5},
		{FamilyPostgres, "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc", PostgreSQL, "15.18", 15},
		{FamilyMySQL, "10.11.6-MariaDB-0+deb12u1-log", MariaDB, "10.11.6", 10},
		{FamilyMySQL, "8.0.36", MySQL, "8.0.36", 8},
	}
	for _, c := range cases {
		d, err := DetectDialect(c.fam, c.banner)
		if err != nil {
			t.Errorf("%q: %v", c.banner, err)
			continue
		}
		if d.Engine != c.engine || d.Version != c.version || d.Major != c.major {
			t.Errorf("%q: got %s %s major %d, want %s %s major %d", c.banner, d.Engine, d.Version, d.Major, c.engine, c.version, c.major)
		}
	}
	if _, err := DetectDialect(FamilyPostgres, "CockroachDB CCL v23.1"); err == nil {
		t.Error("an unknown PostgreSQL-family banner must be an error, not a guess")
	}
}

func TestDialectSQL(t *testing.T) {
	t.Parallel()
	gauss := Dialect{Engine: OpenGauss, Version: "5.0.0", Major: 5}
	pg15 := Dialect{Engine: PostgreSQL, Version: "15.18", Major: 15, Minor: 18}
	pg96 := Dialect{Engine: PostgreSQL, Version: "9.6.24", Major: 9, Minor: 6}
	maria := Dialect{Engine: MariaDB, Version: "10.11.6", Major: 10, Minor: 11}
	cases := []struct {
		name, got, want string
	}{
		{"gauss current lsn", gauss.CurrentLSNSQL(), "SELECT pg_current_xlog_location()::text"},
		{"pg15 current lsn", pg15.CurrentLSNSQL(), "SELECT pg_current_wal_lsn()::text"},
		{"pg9.6 current lsn", pg96.CurrentLSNSQL(), "SELECT pg_current_xlog_location()::text"},
		{"gauss lsn diff", gauss.LSNDiffExpr("a", "b"), "pg_xlog_location_diff(a, b)"},
		{"pg15 lsn diff", pg15.LSNDiffExpr("a", "b"), "pg_wal_lsn_diff(a, b)"},
		{"gauss plugin", gauss.DefaultDecodingPlugin(), "mppdb_decoding"},
		{"pg plugin", pg15.DefaultDecodingPlugin(), "test_decoding"},
		{"gauss upsert", gauss.UpsertClause([]string{"id"}, []string{"v"}), `ON DUPLICATE KEY UPDATE "v" = EXCLUDED."v"`},
		{"gauss insert-or-nothing", gauss.UpsertClause([]string{"id"}, nil), "ON DUPLICATE KEY UPDATE NOTHING"},
		{"pg upsert", pg15.UpsertClause([]string{"id"}, []string{"v"}), `ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v"`},
		{"maria upsert", maria.UpsertClause([]string{"id"}, []string{"v"}), "ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"},
		{"pg placeholders", pg15.Placeholders(2, 3), "$2, $3, $4"},
		{"maria placeholders", maria.Placeholders(1, 2), "?, ?"},
		{"gauss quote", gauss.QuoteIdent(`Or"ders`), `"Or""ders"`},
		{"maria quote", maria.QuoteIdent("a`b"), "`a``b`"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if gauss.HasOnConflict() || !pg15.HasOnConflict() || maria.HasOnConflict() {
		t.Error("ON CONFLICT exists on PostgreSQL 9.5+ only")
	}
	if !gauss.VersionAtLeast("5.0") || gauss.VersionAtLeast("5.1") || !pg15.VersionAtLeast("15") {
		t.Error("VersionAtLeast compares dotted numbers")
	}
}

func TestParseDSNAndRedact(t *testing.T) {
	t.Parallel()
	d, err := ParseDSN("opengauss://pay:S3cr%40t@10.0.0.5:15400/payd?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if d.Family != FamilyPostgres || d.User != "pay" || d.Password != "S3cr@t" || d.Port != 15400 || d.Database != "payd" {
		t.Errorf("parsed %+v", d)
	}
	if s := d.String(); strings.Contains(s, "S3cr") || !strings.Contains(s, "pay:xxxxx@10.0.0.5:15400") {
		t.Errorf("String() = %q: the password must be redacted", s)
	}
	if u := d.URL(); !strings.Contains(u, "S3cr%40t") {
		t.Errorf("URL() = %q: the driver needs the password", u)
	}
	m, _ := ParseDSN("mysql://legacy:pw@127.0.0.1/payd")
	if m.Family != FamilyMySQL || m.Port != 3306 {
		t.Errorf("mysql defaults: %+v", m)
	}
	bad := []struct{ in, want string }{
		{"", "empty DSN"},
		{"oracle://u:topsecret@h/db", `unknown scheme "oracle"`},
		{"postgres://u:topsecret@h:99999/db", "port"},
		{"postgres://h:5432/db", "no user"},
		{"opengauss://u:topsecret@h1:5432,h2:x/db", `host 2 of 2: port "x"`},
		{"opengauss://u:topsecret@h1:5432,h2:0/db", "host 2 of 2: port"},
		{"mysql://u:topsecret@h1:3306,h2:3306/db", "only openGauss/PostgreSQL DSNs may list"},
		{"opengauss://u:topsecret@h1,h2/db?target_session_attrs=master", "target_session_attrs"},
	}
	for _, b := range bad {
		_, err := ParseDSN(b.in)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseDSN(%q) = %v, want error containing %q", b.in, err, b.want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseDSN(%q) error leaks the password: %v", b.in, err)
		}
	}
	for in, want := range map[string]string{
		"opengauss://pay:pw@h1:5432,h2,[fd00::3]:5433/payd?target_session_attrs=read-write": "opengauss://pay:xxxxx@h1:5432,h2:5432,[fd00::3]:5433/payd?target_session_attrs=read-write",
		"postgres://pay:pw@h1/payd": "postgres://pay:xxxxx@h1:5432/payd",
	} {
		d, err := ParseDSN(in)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", in, err)
		}
		if got := d.String(); got != want {
			t.Errorf("ParseDSN(%q).String() = %q, want %q", in, got, want)
		}
		if n := d.Nodes(); len(n) != len(d.Endpoints()) || n[len(n)-1].Cluster() || n[0].Params.Has("target_session_attrs") {
			t.Errorf("Nodes(%q) = %v: one single-node DSN per node, without target_session_attrs", in, n)
		}
	}
	c, _ := ParseDSN("opengauss://pay:pw@h1:5432,h2:5433/payd?target_session_attrs=read-write&sslmode=disable")
	if !c.Cluster() || c.Host != "h1" || c.More[0] != (Endpoint{"h2", 5433}) {
		t.Errorf("cluster DSN parsed as %+v", c)
	}
	if n := c.Node(c.More[0]).URL(); n != "opengauss://pay:pw@h2:5433/payd?sslmode=disable" {
		t.Errorf("Node(h2) = %s", n)
	}
	for in, want := range map[string]string{
		"dial postgres://pay:hunter2@h:5432/db failed": "dial postgres://pay:xxxxx@h:5432/db failed",
		"host=h user=pay password=hunter2 dbname=x":    "host=h user=pay password=xxxxx dbname=x",
		"mysql://root:p%40ss@127.0.0.1:3306/":          "mysql://root:xxxxx@127.0.0.1:3306/",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSlotSQL(t *testing.T) {
	t.Parallel()
	gauss := Dialect{Engine: OpenGauss, Major: 5, Version: "5.0.0"}
	pg := Dialect{Engine: PostgreSQL, Major: 15, Version: "15.18"}
	slotInfo, err := gauss.SlotInfoSQL()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{gauss.PeekChangesSQL(2), "SELECT location::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2, $3, $4)"},
		{pg.PeekChangesSQL(0), "SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2)"},
		{gauss.AdvanceSlotSQL(), "SELECT pg_replication_slot_advance($1, $2)"},
		{pg.AdvanceSlotSQL(), "SELECT pg_replication_slot_advance($1, $2::pg_lsn)"},
		{gauss.EndSessionsSQL(), "SELECT count(pg_terminate_session(pid, sessionid)) FROM pg_stat_activity WHERE usename = $1"},
		{pg.EndSessionsSQL(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1"},
		{slotInfo, "SELECT plugin, active, COALESCE(restart_lsn::text, ''), COALESCE(confirmed_flush::text, '') FROM pg_replication_slots WHERE slot_name = $1"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	// confirmed_flush came in openGauss 3.0.3: older servers are refused by name.
	for v, ok := range map[string]bool{"3.0.2": false, "2.1.0": false, "3.0.3": true, "3.1.0": true, "6.0.0": true} {
		_, err := Dialect{Engine: OpenGauss, Version: v}.SlotInfoSQL()
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "3.0.3 or later")) {
			t.Errorf("openGauss %s: %v", v, err)
		}
	}
	if _, err := pg.SlotInfoSQL(); err != nil {
		t.Errorf("PostgreSQL: %v", err)
	}
}

// The catalog queries name the current schema and the placeholder in each engine's
// spelling.
func TestCatalogSQL(t *testing.T) {
	t.Parallel()
	pg, _ := DetectDialect(FamilyPostgres, "(openGauss 5.0.0 build x) compiled at ...")
	my, _ := DetectDialect(FamilyMySQL, "10.11.6-MariaDB")
	for _, c := range []struct{ got, want string }{
		{pg.ColumnsSQL(), "table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"},
		{my.ColumnsSQL(), "table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"},
		{pg.TablesSQL(), "table_schema = current_schema() AND table_type = 'BASE TABLE'"},
		{my.TablesSQL(), "table_schema = DATABASE() AND table_type = 'BASE TABLE'"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%q lacks %q", c.got, c.want)
		}
	}
}
