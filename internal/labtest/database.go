package labtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/lab"
)

// Engines of the lab, for tests that run on both.
const (
	Gauss  = "gauss"
	Legacy = "legacy"
)

// FreshDatabase drops and creates database name on the lab's gauss or legacy, owned by
// (or granted to) the lab's application user, and returns the app user's DSN to it.
func FreshDatabase(t testing.TB, env lab.Env, engine, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adminDSN, appDSN := env.GaussAdminDSN, env.GaussDSN
	if engine == Legacy {
		adminDSN, appDSN = env.LegacyAdminDSN, env.LegacyDSN
	}
	admin, err := dbx.Open(ctx, adminDSN, dbx.Options{})
	if err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	defer admin.Close()
	app, err := dbx.ParseDSN(appDSN)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	if engine == Legacy {
		stmts = []string{
			"DROP DATABASE IF EXISTS `" + name + "`",
			"CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
			fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'127.0.0.1'", name, app.User),
		}
	} else {
		stmts = []string{
			fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()`, name),
			`DROP DATABASE IF EXISTS "` + name + `"`,
			// openGauss's default mode is A: the platform's databases are PG.
			fmt.Sprintf(`CREATE DATABASE "%s" OWNER "%s" DBCOMPATIBILITY 'PG'`, name, app.User),
		}
	}
	for _, q := range stmts {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("fresh database %s: %s: %v", name, q, err)
		}
	}
	app.Database = name
	if engine == Gauss {
		// gs_initdb leaves schema public to the initial user: the platform's role gets
		// CREATE there as xckit install's db-bootstrap gives it.
		ad, _ := dbx.ParseDSN(adminDSN)
		ad.Database = name
		in, err := dbx.OpenDSN(ctx, ad, dbx.Options{})
		if err != nil {
			t.Fatalf("fresh database %s: %v", name, err)
		}
		defer in.Close()
		if _, err := in.ExecContext(ctx, fmt.Sprintf(`GRANT CREATE, USAGE ON SCHEMA public TO "%s"`, app.User)); err != nil {
			t.Fatalf("fresh database %s: grant: %v", name, err)
		}
	}
	return app.URL()
}

// DatabaseName makes a database name from a test name.
func DatabaseName(prefix string, t testing.TB) string {
	r := strings.NewReplacer("/", "_", " ", "_", "-", "_", ".", "_")
	n := strings.ToLower(prefix + "_" + r.Replace(t.Name()))
	if len(n) > 60 {
		n = n[:60]
	}
	return n
}
