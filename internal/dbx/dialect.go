package dbx

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Engine names the database product behind a connection.
type Engine string

const (
	OpenGauss  Engine = "opengauss"
	PostgreSQL Engine = "postgresql"
	MySQL      Engine = "mysql"
	MariaDB    Engine = "mariadb"
)

// Dialect answers every SQL difference between the engines xckit talks to. Code that
// runs against openGauss asks the dialect instead of writing PostgreSQL-only SQL.
type Dialect struct {
	Engine  Engine `json:"engine"`
	Version string `json:"version"` // product version, e.g. "5.0.0", "15.18", "10.11.6"
	Major   int    `json:"major"`
	Minor   int    `json:"minor"`
	Banner  string `json:"banner"` // the raw version() / VERSION() string
}

// Family reports the protocol family of the engine.
func (d Dialect) Family() Family {
	if d.Engine == MySQL || d.Engine == MariaDB {
		return FamilyMySQL
	}
	return FamilyPostgres
}

// Name is a human label such as "openGauss 5.0.0" or "MariaDB 10.11.6".
func (d Dialect) Name() string {
	label := map[Engine]string{OpenGauss: "openGauss", PostgreSQL: "PostgreSQL", MySQL: "MySQL", MariaDB: "MariaDB"}[d.Engine]
	return strings.TrimSpace(label + " " + d.Version)
}

// Placeholder is the n-th (1-based) bind parameter marker.
func (d Dialect) Placeholder(n int) string {
	if d.Family() == FamilyMySQL {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// Placeholders returns n markers joined by ", ", starting at from.
func (d Dialect) Placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.Placeholder(from + i)
	}
	return strings.Join(ps, ", ")
}

// QuoteIdent quotes an identifier for the engine.
func (d Dialect) QuoteIdent(name string) string {
	if d.Family() == FamilyMySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// HasOnConflict reports whether INSERT ... ON CONFLICT exists (PostgreSQL 9.5+ only).
// Portable code does not use it: it inserts and treats IsUniqueViolation as done.
func (d Dialect) HasOnConflict() bool {
	return d.Engine == PostgreSQL && (d.Major > 9 || (d.Major == 9 && d.Minor >= 5))
}

// UpsertClause is the engine's form of "insert, or update these columns when the key
// exists": ON CONFLICT (PostgreSQL), ON DUPLICATE KEY UPDATE (openGauss, MySQL).
// keys are the conflict columns, cols the columns to overwrite.
func (d Dialect) UpsertClause(keys, cols []string) string {
	set := make([]string, len(cols))
	switch d.Engine {
	case PostgreSQL:
		for i, c := range cols {
			set[i] = fmt.Sprintf("%s = EXCLUDED.%s", d.QuoteIdent(c), d.QuoteIdent(c))
		}
		qk := make([]string, len(keys))
		for i, k := range keys {
			qk[i] = d.QuoteIdent(k)
		}
		if len(cols) == 0 {
			return fmt.Sprintf("ON CONFLICT (%s) DO NOTHING", strings.Join(qk, ", "))
		}
		return fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(qk, ", "), strings.Join(set, ", "))
	case OpenGauss:
		for i, c := range cols {
			set[i] = fmt.Sprintf("%s = EXCLUDED.%s", d.QuoteIdent(c), d.QuoteIdent(c))
		}
	default:
		for i, c := range cols {
			set[i] = fmt.Sprintf("%s = VALUES(%s)", d.QuoteIdent(c), d.QuoteIdent(c))
		}
	}
	if len(cols) == 0 {
		if d.Engine == OpenGauss {
			return "ON DUPLICATE KEY UPDATE NOTHING" // openGauss forbids updating key columns
		}
		// A no-op update keeps the statement valid and idempotent.
		set = []string{fmt.Sprintf("%s = %s", d.QuoteIdent(keys[0]), d.QuoteIdent(keys[0]))}
	}
	return "ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
}

// usesXlogNames: openGauss (PostgreSQL 9.2 base) and PostgreSQL < 10 name WAL
// functions "xlog"; PostgreSQL 10+ renamed them to "wal".
func (d Dialect) usesXlogNames() bool {
	return d.Engine == OpenGauss || (d.Engine == PostgreSQL && d.Major < 10)
}

// CurrentLSNSQL is a query returning the current write-ahead log position as text.
func (d Dialect) CurrentLSNSQL() string {
	switch {
	case d.Family() == FamilyMySQL:
		return "" // MySQL positions are binlog file/offset: not an LSN
	case d.usesXlogNames():
		return "SELECT pg_current_xlog_location()::text"
	default:
		return "SELECT pg_current_wal_lsn()::text"
	}
}

// LSNDiffExpr is an SQL expression giving the byte distance a - b between two LSN
// expressions.
func (d Dialect) LSNDiffExpr(a, b string) string {
	if d.usesXlogNames() {
		return fmt.Sprintf("pg_xlog_location_diff(%s, %s)", a, b)
	}
	return fmt.Sprintf("pg_wal_lsn_diff(%s, %s)", a, b)
}

// DecodingPlugins lists the logical decoding plugins the engine ships, preferred first.
func (d Dialect) DecodingPlugins() []string {
	switch d.Engine {
	case OpenGauss:
		return []string{"mppdb_decoding", "pgoutput"}
	case PostgreSQL:
		return []string{"test_decoding", "wal2json", "pgoutput"}
	}
	return nil
}

// DefaultDecodingPlugin is the plugin xckit's CDC uses unless told otherwise.
func (d Dialect) DefaultDecodingPlugin() string {
	if ps := d.DecodingPlugins(); len(ps) > 0 {
		return ps[0]
	}
	return ""
}

var (
	gaussBanner = regexp.MustCompile(`\((?:openGauss(?:-lite)?|GaussDB Kernel)\s+([^\s)]+)`)
	pgBanner    = regexp.MustCompile(`^PostgreSQL\s+(\d+(?:\.\d+)*)`)
	mysqlVer    = regexp.MustCompile(`^(\d+(?:\.\d+)*)`)
)

// DetectDialect reads a server's version banner: `SELECT version()` on the PostgreSQL
// family, `SELECT VERSION()` on MySQL/MariaDB. openGauss reports server_version 9.2.4,
// so only the banner tells it apart.
func DetectDialect(fam Family, banner string) (Dialect, error) {
	b := strings.TrimSpace(banner)
	d := Dialect{Banner: b}
	switch fam {
	case FamilyPostgres:
		if m := gaussBanner.FindStringSubmatch(b); m != nil {
			d.Engine, d.Version = OpenGauss, m[1]
		} else if m := pgBanner.FindStringSubmatch(b); m != nil {
			d.Engine, d.Version = PostgreSQL, m[1]
		} else {
			return d, fmt.Errorf("unrecognised server version %q: expected openGauss or PostgreSQL", b)
		}
	case FamilyMySQL:
		m := mysqlVer.FindStringSubmatch(b)
		if m == nil {
			return d, fmt.Errorf("unrecognised server version %q: expected MySQL or MariaDB", b)
		}
		d.Engine, d.Version = MySQL, m[1]
		if strings.Contains(strings.ToLower(b), "mariadb") {
			d.Engine = MariaDB
		}
	default:
		return d, fmt.Errorf("unknown protocol family %q", fam)
	}
	d.Major, d.Minor = splitVersion(d.Version)
	return d, nil
}

// splitVersion reads "5.0.0", "V500R002C20" or "15.18" into major and minor numbers.
func splitVersion(v string) (int, int) {
	nums := regexp.MustCompile(`\d+`).FindAllString(v, 2)
	var major, minor int
	if len(nums) > 0 {
		major, _ = strconv.Atoi(nums[0])
	}
	if len(nums) > 1 && strings.Contains(v, ".") {
		minor, _ = strconv.Atoi(nums[1])
	}
	return major, minor
}

// VersionAtLeast compares the dialect's version with a dotted minimum such as "5.0".
func (d Dialect) VersionAtLeast(min string) bool {
	want := regexp.MustCompile(`\d+`).FindAllString(min, -1)
	have := regexp.MustCompile(`\d+`).FindAllString(d.Version, -1)
	for i := range want {
		w, _ := strconv.Atoi(want[i])
		h := 0
		if i < len(have) {
			h, _ = strconv.Atoi(have[i])
		}
		if h != w {
			return h > w
		}
	}
	return true
}
