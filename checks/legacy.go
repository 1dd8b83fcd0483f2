package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
)

func legacyChecks(p *profiles.Profile) []Check {
	return []Check{
		legacySide.reachable("legacy.reachable", "Legacy database reachable"),
		legacyCheck("legacy.version", "Legacy engine and version", checkLegacyVersion(p)),
		legacyCheck("legacy.charset", "Character set", checkLegacyCharset(p)),
		legacyCheck("legacy.timezone", "Time zone equals openGauss's", checkLegacyTimezone(p)),
		legacyCheck("legacy.binlog", "Binary log readable by forward CDC", checkLegacyBinlog(p)),
		legacyCheck("legacy.privileges", "The applier may write the tables", checkLegacyPrivileges(p)),
		legacyCheck("legacy.tables", "Tables match openGauss's", checkLegacyTables(p)),
	}
}

// sameZone compares PostgreSQL's TimeZone with MySQL's @@time_zone.
func sameZone(pg, mysqlTZ, system string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch s {
		case "UTC", "ETC/UTC", "GMT", "+00:00", "Z":
			return "UTC"
		case "PRC", "ASIA/SHANGHAI", "+08:00", "CST":
			return "CN"
		}
		return s
	}
	m := mysqlTZ
	if strings.EqualFold(m, "SYSTEM") {
		m = system
	}
	return norm(pg) == norm(m)
}

// checkLegacyVersion is legacy.version: legacy engine and version.
func checkLegacyVersion(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	l := p.Legacy
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := strings.Join(l.Engines, " or ") + " >= " + l.MinVersion
		got := db.Dialect.Name()
		if len(l.Engines) > 0 && !slices.Contains(l.Engines, string(db.Dialect.Engine)) {
			return failed(want, got, "the legacy database must be MySQL or MariaDB")
		}
		if l.MinVersion != "" && !db.Dialect.VersionAtLeast(l.MinVersion) {
			return failed(want, got, "this legacy version is older than the profile accepts")
		}
		return pass(want, got)
	}
}

// checkLegacyCharset is legacy.charset: character set.
func checkLegacyCharset(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	l := p.Legacy
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		want := l.Charset
		if want == "" {
			want = "utf8mb4"
		}
		var cs, coll string
		if err := db.QueryRowContext(ctx, "SELECT @@character_set_database, @@collation_database").Scan(&cs, &coll); err != nil {
			return couldNot(want, err, "")
		}
		got := cs + " / " + coll
		switch {
		case strings.EqualFold(cs, want):
			return pass(want, got)
		case strings.EqualFold(cs, "gbk"):
			return warn(want, got, "gbk cannot hold every character openGauss can (rare Chinese characters, emoji): CDC stops on such a row instead of changing it; plan to convert to utf8mb4")
		}
		return failed(want, got, "ALTER DATABASE ... CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	}
}

// checkLegacyTimezone is legacy.timezone: time zone equals openGauss's.
func checkLegacyTimezone(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		var tz, sys string
		if err := db.QueryRowContext(ctx, "SELECT @@time_zone, @@system_time_zone").Scan(&tz, &sys); err != nil {
			return couldNot("openGauss's", err, "")
		}
		got := tz
		if tz == "SYSTEM" {
			got = "SYSTEM (" + sys + ")"
		}
		if t.DB == nil {
			return pass("reported", got)
		}
		gtz, err := t.DB.Setting(ctx, "TimeZone")
		if err != nil {
			return couldNot("openGauss's", err, "")
		}
		if sameZone(gtz, tz, sys) {
			return pass(gtz, got)
		}
		return warn(gtz, got, "timestamps cross as UTC, but reports and people compare local times: set default_time_zone to match openGauss's TimeZone")
	}
}

// checkLegacyBinlog is legacy.binlog: a binary log forward CDC can read (on, ROW
// format, full row images).
func checkLegacyBinlog(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	l := p.Legacy
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		const want = "log_bin ON, binlog_format ROW, binlog_row_image FULL"
		var f, img string
		var on int
		if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image").Scan(&on, &f, &img); err != nil {
			return couldNot(want, err, "")
		}
		got := fmt.Sprintf("log_bin %s, binlog_format %s, binlog_row_image %s", map[int]string{0: "OFF", 1: "ON"}[on], f, img)
		if !l.BinlogRow {
			return pass(want, got)
		}
		if err := cdc.CheckBinlog(ctx, db); err != nil {
			return failed(want, got, "forward CDC (cdc.forward, cutover prepare) and the legacy side's own replicas need row events with whole rows: "+err.Error())
		}
		return pass(want, got)
	}
}

// checkLegacyPrivileges is legacy.privileges: the applier may write the tables.
func checkLegacyPrivileges(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		grants, err := db.Strings(ctx, "SHOW GRANTS")
		if err != nil {
			return couldNot("INSERT, UPDATE, DELETE", err, "")
		}
		all := strings.ToUpper(strings.Join(grants, "; "))
		if strings.Contains(all, "ALL PRIVILEGES") || (strings.Contains(all, "INSERT") && strings.Contains(all, "UPDATE") && strings.Contains(all, "DELETE")) {
			return pass("INSERT, UPDATE, DELETE", "granted")
		}
		return failed("INSERT, UPDATE, DELETE", strings.Join(grants, "; "), "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON payd.* TO the applier")
	}
}

// checkLegacyTables is legacy.tables: tables match openGauss's.
func checkLegacyTables(p *profiles.Profile) func(ctx context.Context, t *Target, db *dbx.DB) Result {
	return func(ctx context.Context, t *Target, db *dbx.DB) Result {
		if t.DB == nil {
			return skip("needs --db too")
		}
		tables, err := cdc.CheckTables(ctx, t.DB, db, nil)
		if err != nil {
			if len(tables) == 0 && strings.Contains(err.Error(), "no tables match") {
				return skip("the platform is not installed yet")
			}
			return failed("same tables and primary keys", err.Error(), "create the missing tables or keys on the legacy side, or fix them on openGauss")
		}
		return pass("same tables and primary keys", fmt.Sprintf("%d tables: %s", len(tables), strings.Join(tables, ", ")))
	}
}
