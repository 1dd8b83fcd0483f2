package platform

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

//go:embed migrations
var migrations embed.FS

// Migration is one embedded schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the steps for a dialect, in order.
func Migrations(d dbx.Dialect) ([]Migration, error) {
	dir := "migrations/postgres"
	if d.Family() == dbx.FamilyMySQL {
		dir = "migrations/mysql"
	}
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := migrations.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// LatestVersion is the schema version this payd expects.
func LatestVersion(d dbx.Dialect) int {
	ms, _ := Migrations(d)
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

const versionTable = "xc_schema_version"

// SchemaVersion reads the applied version; 0 when no migration ran. A migration that
// started but did not finish is reported as an error (dirty).
func SchemaVersion(ctx context.Context, db *dbx.DB) (int, error) {
	var v int
	var dirty bool
	err := db.QueryRowContext(ctx, "SELECT version, dirty FROM "+versionTable+" ORDER BY version DESC LIMIT 1").Scan(&v, &dirty)
	if err != nil {
		if isMissingTable(err) || strings.Contains(err.Error(), "no rows") {
			return 0, nil
		}
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if dirty {
		return v, fmt.Errorf("schema migration %d started but did not finish (dirty): inspect the tables, then fix or drop them and run payd migrate", v)
	}
	return v, nil
}

func isMissingTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "42P01") || strings.Contains(s, "1146") || strings.Contains(s, "does not exist")
}

// Migrate applies every missing migration. Each step is recorded dirty before it runs
// and clean after, so an interrupted run is detected instead of repeated blindly.
func Migrate(ctx context.Context, db *dbx.DB) (applied []int, err error) {
	// Several hosts may install at once (ansible): one migrates, the others wait and
	// then find nothing to do.
	release, err := lockMigrations(ctx, db)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+versionTable+
		" (version INT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL, applied_at "+timestampType(db.Dialect)+" NOT NULL)"); err != nil {
		return nil, fmt.Errorf("create %s: %w", versionTable, err)
	}
	cur, err := SchemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	ph := db.Dialect.Placeholder
	for _, m := range ms {
		if m.Version <= cur {
			continue
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (version, dirty, applied_at) VALUES (%s, %s, %s)", versionTable, ph(1), ph(2), ph(3)), m.Version, true, time.Now().UTC()); err != nil {
			return applied, fmt.Errorf("mark migration %d: %w", m.Version, err)
		}
		if err := execScript(ctx, db, m.SQL); err != nil {
			return applied, fmt.Errorf("migration %s: %w (the schema is marked dirty)", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET dirty = %s WHERE version = %s", versionTable, ph(1), ph(2)), false, m.Version); err != nil {
			return applied, fmt.Errorf("finish migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// lockMigrations takes a database-wide lock for the migration, held on a connection
// of its own until release: hosts installing at once run their migrations in turn.
func lockMigrations(ctx context.Context, db *dbx.DB) (func(), error) {
	release, ok, err := db.Lock(ctx, "xckit_payd_migrate", 2*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("lock the schema migration: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("lock the schema migration: another migration held the lock for 2 minutes; retry when it has finished")
	}
	return release, nil
}

func timestampType(d dbx.Dialect) string {
	if d.Family() == dbx.FamilyMySQL {
		return "DATETIME(6)"
	}
	return "TIMESTAMP(6)"
}

// execScript runs a migration file statement by statement (split on ';' at line
// ends; the embedded files keep to that).
func execScript(ctx context.Context, db *dbx.DB, script string) error {
	tx, err := db.BeginTx(ctx, nil) // DDL is transactional on the PostgreSQL family
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range splitSQL(script) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\n  in: %s", err, firstLine(stmt))
		}
	}
	return tx.Commit()
}

func splitSQL(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
