package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

// Phase is one named, idempotent install step.
type Phase struct {
	Name  string
	plan  func(ctx context.Context, r *run) ([]string, error)
	apply func(ctx context.Context, r *run) (int, error)
}

// Phases lists the install phases in order.
func Phases() []Phase {
	return []Phase{
		{"preflight", planPreflight, applyPreflight},
		{"os-tune", planOSTune, applyOSTune},
		{"db-bootstrap", planBootstrap, applyBootstrap},
		{"schema", planSchema, applySchema},
		{"deploy", planDeploy, applyDeploy},
		{"service", planService, applyService},
		{"start", planStart, applyStart},
		{"health", planHealth, applyHealth},
		{"smoke", planSmoke, applySmoke},
	}
}

// PhaseNames lists the phase names.
func PhaseNames() []string {
	var out []string
	for _, p := range Phases() {
		out = append(out, p.Name)
	}
	return out
}

// --- preflight ---

func planPreflight(ctx context.Context, r *run) ([]string, error) {
	list, err := checks.ForProfile(r.o.Profile, []string{"host", "db"})
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("would run %d checks (host and db) against profile %s; a failure stops the install unless --ignore'd", len(list), r.o.Profile.Name)}, nil
}

func applyPreflight(ctx context.Context, r *run) (int, error) {
	list, err := checks.ForProfile(r.o.Profile, []string{"host", "db"})
	if err != nil {
		return 0, err
	}
	t := &checks.Target{Root: r.o.HostRoot, Profile: r.o.Profile}
	dsn := r.o.AdminDB
	if dsn == "" {
		dsn = r.o.DB
	}
	t.DB, t.DBErr = dbx.Open(ctx, dsn, dbx.Options{AppName: "xckit-install"})
	if t.DB != nil {
		defer t.DB.Close()
	}
	rep := checks.Run(ctx, list, t, r.o.Ignore)
	if failed := rep.Failed(); len(failed) > 0 {
		return 0, fmt.Errorf("%d checks failed: %s (xckit check shows why; accept them with --ignore %s)", len(failed), strings.Join(failed, ", "), strings.Join(failed, ","))
	}
	r.note("%d checks: %d pass, %d warn, %d skip", len(rep.Checks), rep.Summary[checks.Pass], rep.Summary[checks.Warn], rep.Summary[checks.Skip])
	return 0, nil
}

// --- os-tune ---

func planOSTune(ctx context.Context, r *run) ([]string, error) {
	return []string{"would apply the profile's sysctl, limits and THP fixes (as xckit check --fix --yes)"}, nil
}

func applyOSTune(ctx context.Context, r *run) (int, error) {
	list, err := checks.ForProfile(r.o.Profile, []string{"host"})
	if err != nil {
		return 0, fmt.Errorf("the profile's host checks: %w", err)
	}
	rep := checks.Run(ctx, list, &checks.Target{Root: r.o.HostRoot, Profile: r.o.Profile}, nil)
	plan, err := checks.PlanFixes(r.o.HostRoot, rep)
	if err != nil {
		return 0, err
	}
	if len(plan.Changes) == 0 {
		return 0, nil
	}
	if err := r.act(); err != nil {
		return 0, err
	}
	return len(plan.Changes), checks.ApplyFixes(r.o.HostRoot, plan)
}

// --- db-bootstrap ---

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// bootstrapActions lists what db-bootstrap must do, in order, with the SQL for each.
func bootstrapActions(ctx context.Context, r *run, admin *dbx.DB) ([][2]string, error) {
	app, err := dbx.ParseDSN(r.o.DB)
	if err != nil {
		return nil, err
	}
	var acts [][2]string
	exists := func(q string, args ...any) (bool, error) {
		var n int
		err := admin.QueryRowContext(ctx, q, args...).Scan(&n)
		return n > 0, err
	}
	ok, err := exists("SELECT count(*) FROM pg_roles WHERE rolname = $1", app.User)
	if err != nil {
		return nil, err
	}
	fenced, err := exists(admin.Dialect.RoleFencedSQL(), app.User)
	if err != nil {
		return nil, err
	}
	if fenced {
		return nil, fmt.Errorf("role %s is fenced read-only (xckit rollback did this, so that only the legacy side writes): switch forward with xckit cutover, or, if the legacy side is really out of service, ALTER ROLE %s RESET default_transaction_read_only", app.User, app.User)
	}
	if !ok {
		if app.Password == "" {
			return nil, fmt.Errorf("--db has no password for the new role %s: put it in the DSN", app.User)
		}
		acts = append(acts, [2]string{"create role " + app.User + " (login, no other rights)", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", admin.Dialect.QuoteIdent(app.User), lit(app.Password))})
	}
	ok, err = exists("SELECT count(*) FROM pg_database WHERE datname = $1", app.Database)
	if err != nil {
		return nil, err
	}
	if !ok {
		create := fmt.Sprintf("CREATE DATABASE %s OWNER %s ENCODING 'UTF8' TEMPLATE template0", admin.Dialect.QuoteIdent(app.Database), admin.Dialect.QuoteIdent(app.User))
		what := "create database " + app.Database + " owned by " + app.User
		if admin.Dialect.Engine == dbx.OpenGauss {
			// openGauss copies template0's mode, A by default ('' stored as NULL).
			mode := r.o.Profile.Database.CompatibilityMode()
			create += " DBCOMPATIBILITY '" + mode + "'"
			what += ", compatibility " + mode
		}
		acts = append(acts, [2]string{what, create})
	}
	s, err := r.loadSecrets()
	if err != nil {
		return nil, err
	}
	if s.CDCPassword != "" {
		ok, err = exists("SELECT count(*) FROM pg_roles WHERE rolname = 'xckit_cdc'")
		if err != nil {
			return nil, err
		}
		if !ok {
			acts = append(acts, [2]string{"create role xckit_cdc with REPLICATION (for the CDC)", "CREATE ROLE xckit_cdc LOGIN REPLICATION PASSWORD " + lit(s.CDCPassword)})
		}
	}
	return acts, nil
}

// recordCreatedRole notes a cluster role install made, for uninstall --drop-data.
func recordCreatedRole(o Options, role string) error {
	if err := os.MkdirAll(filepath.Dir(o.createdRolesPath()), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(o.createdRolesPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record the role install created: %w", err)
	}
	if _, err := fmt.Fprintln(f, role); err != nil {
		f.Close()
		return fmt.Errorf("record the role install created: %w", err)
	}
	return f.Close()
}

// createdRoles reads what recordCreatedRole wrote.
func createdRoles(o Options) map[string]bool {
	b, _ := os.ReadFile(o.createdRolesPath())
	out := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		out[l] = true
	}
	return out
}

func planBootstrap(ctx context.Context, r *run) ([]string, error) {
	admin, err := r.adminDB(ctx)
	if err != nil {
		return nil, err
	}
	acts, err := bootstrapActions(ctx, r, admin)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range acts {
		out = append(out, "would "+a[0])
	}
	_, grants, err := schemaGrants(ctx, r, false)
	if err != nil {
		return nil, err
	}
	out = append(out, grants...)
	out = append(out, paramPlan(ctx, r, admin)...)
	return out, nil
}

// paramPlan lists the profile's database parameters that differ, with the command
// that sets them: gs_guc for openGauss (run by the DBA on the database host),
// ALTER SYSTEM for PostgreSQL.
func paramPlan(ctx context.Context, r *run, admin *dbx.DB) []string {
	var out []string
	for name, want := range r.o.Profile.Database.Parameters {
		e := checks.ParseExpectation(want)
		v, err := admin.Setting(ctx, name)
		if err != nil { // said, not skipped: the DBA must look at it
			out = append(out, fmt.Sprintf("parameter %s (want %s) could not be read: %v", name, want, err))
			continue
		}
		if ok, _ := e.Met(v, 0); ok {
			continue
		}
		out = append(out, fmt.Sprintf("parameter %s is %s, want %s: %s", name, v, want, admin.Dialect.SetParameterHint(name, e.Target(0))))
	}
	return out
}

func applyBootstrap(ctx context.Context, r *run) (int, error) {
	admin, err := r.adminDB(ctx)
	if err != nil {
		return 0, err
	}
	acts, err := bootstrapActions(ctx, r, admin)
	if err != nil {
		return 0, err
	}
	for _, a := range acts {
		if err := r.act(); err != nil {
			return 0, err
		}
		if strings.HasPrefix(a[1], "CREATE ROLE xckit_cdc ") {
			// Recorded first: a crash right after the CREATE must not lose it.
			if err := recordCreatedRole(r.o, "xckit_cdc"); err != nil {
				return 0, err
			}
		}
		if _, err := admin.ExecContext(ctx, a[1]); err != nil {
			return 0, fmt.Errorf("%s: %w", a[0], err)
		}
		r.note("%s", a[0])
	}
	grants, _, err := schemaGrants(ctx, r, true)
	if err != nil {
		return len(acts), err
	}
	for _, p := range paramPlan(ctx, r, admin) {
		r.note("for the DBA: %s", p)
	}
	return len(acts) + grants, nil
}

// schemaGrants gives the platform's role CREATE and USAGE on schema public of its own
// database, and the CDC role USAGE and SELECT (on today's tables and on those the
// platform's migrations create later), where they lack them. gs_initdb leaves public
// owned by the initial user with CREATE revoked from PUBLIC: owning the database gives
// no CREATE there (PostgreSQL 15 makes the database owner public's owner, which hid
// this on the lab). It runs in the application database as the administrator.
func schemaGrants(ctx context.Context, r *run, apply bool) (int, []string, error) {
	app, err := dbx.ParseDSN(r.o.DB)
	if err != nil {
		return 0, nil, err
	}
	ad, err := dbx.ParseDSN(r.o.AdminDB)
	if err != nil {
		return 0, nil, err
	}
	ad.Database = app.Database
	db, err := dbx.OpenDSN(ctx, ad, dbx.Options{AppName: "xckit-install"})
	if err != nil {
		if !apply { // --plan before the database exists
			return 0, []string{"would grant " + app.User + " CREATE and USAGE on schema public of " + app.Database + " where it lacks them"}, nil
		}
		return 0, nil, fmt.Errorf("the application database as the administrator: %w", err)
	}
	defer db.Close()
	q := db.Dialect.QuoteIdent
	type grant struct{ role, priv, what string }
	var todo []grant
	has := func(role, priv string) (bool, error) {
		var ok bool
		err := db.QueryRowContext(ctx, "SELECT has_schema_privilege($1, 'public', $2)", role, priv).Scan(&ok)
		return ok, err
	}
	for _, priv := range []string{"CREATE", "USAGE"} {
		ok, err := has(app.User, priv)
		if err != nil {
			return 0, nil, fmt.Errorf("read %s's privileges on schema public: %w", app.User, err)
		}
		if !ok {
			todo = append(todo, grant{app.User, priv, fmt.Sprintf("GRANT %s ON SCHEMA public TO %s", priv, q(app.User))})
		}
	}
	var cdcRole bool
	if err := db.QueryRowContext(ctx, "SELECT count(*) > 0 FROM pg_roles WHERE rolname = 'xckit_cdc'").Scan(&cdcRole); err != nil {
		return 0, nil, err
	}
	if cdcRole {
		// USAGE usually comes through PUBLIC; SELECT on today's tables and on those the
		// migrations create later (default privileges of the platform's role) does not.
		var usage bool
		var unreadable, defaults int
		if err := db.QueryRowContext(ctx, `SELECT has_schema_privilege('xckit_cdc', 'public', 'USAGE'),
			(SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
				AND NOT has_table_privilege('xckit_cdc', quote_ident(schemaname) || '.' || quote_ident(tablename), 'SELECT')),
			(SELECT count(*) FROM pg_default_acl d JOIN pg_roles r ON r.oid = d.defaclrole
				WHERE r.rolname = $1 AND d.defaclobjtype = 'r' AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'public')
				AND array_to_string(d.defaclacl, ',') LIKE '%xckit_cdc=r%')`, app.User).Scan(&usage, &unreadable, &defaults); err != nil {
			return 0, nil, fmt.Errorf("read xckit_cdc's privileges on schema public: %w", err)
		}
		if !usage {
			todo = append(todo, grant{"xckit_cdc", "USAGE", "GRANT USAGE ON SCHEMA public TO xckit_cdc"})
		}
		if unreadable > 0 {
			todo = append(todo, grant{"xckit_cdc", "SELECT", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO xckit_cdc"})
		}
		if defaults == 0 {
			todo = append(todo, grant{"xckit_cdc", "SELECT on new tables",
				fmt.Sprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA public GRANT SELECT ON TABLES TO xckit_cdc", q(app.User))})
		}
	}
	if apply && len(todo) > 0 {
		// Hosts installing at once grant on the same schema: concurrent GRANTs on one
		// catalog row fail with "tuple concurrently updated" (seen with three hosts in
		// the fleet test). One at a time; a GRANT already made is harmless again.
		release, ok, err := db.Lock(ctx, "xckit_install_grants", 2*time.Minute)
		if err != nil {
			return 0, nil, fmt.Errorf("lock the schema grants: %w", err)
		}
		if !ok {
			return 0, nil, fmt.Errorf("lock the schema grants: another install held the lock for 2 minutes; retry when it has finished")
		}
		defer release()
	}
	var plan []string
	for _, g := range todo {
		plan = append(plan, fmt.Sprintf("would grant %s %s on schema public of %s", g.role, g.priv, app.Database))
		if !apply {
			continue
		}
		if err := r.act(); err != nil {
			return 0, nil, err
		}
		if _, err := db.ExecContext(ctx, g.what); err != nil {
			return 0, nil, fmt.Errorf("grant %s %s on schema public of %s: %w", g.role, g.priv, app.Database, err)
		}
		r.note("granted %s %s on schema public of %s", g.role, g.priv, app.Database)
	}
	return len(todo), plan, nil
}

// --- schema ---

func planSchema(ctx context.Context, r *run) ([]string, error) {
	app, err := dbx.ParseDSN(r.o.DB)
	if err != nil {
		return nil, err
	}
	db, err := r.appDB(ctx)
	if err != nil {
		return []string{"would apply payd's migrations to " + app.Database + " (not reachable yet: db-bootstrap creates it)"}, nil
	}
	v, err := platform.SchemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	if want := platform.LatestVersion(db.Dialect); v < want {
		return []string{fmt.Sprintf("would migrate payd's schema from version %d to %d", v, want)}, nil
	}
	return nil, nil
}

func applySchema(ctx context.Context, r *run) (int, error) {
	db, err := r.appDB(ctx)
	if err != nil {
		return 0, err
	}
	if v, _ := platform.SchemaVersion(ctx, db); v < platform.LatestVersion(db.Dialect) {
		if err := r.act(); err != nil {
			return 0, err
		}
	}
	applied, err := platform.Migrate(ctx, db)
	if err != nil {
		return 0, err
	}
	s, err := r.loadSecrets()
	if err != nil {
		return len(applied), err
	}
	if s.CDCPassword != "" {
		// The CDC reads every table; grants are repeatable.
		if _, err := db.ExecContext(ctx, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO xckit_cdc"); err != nil {
			return len(applied), fmt.Errorf("grant SELECT on the payd tables to xckit_cdc (the CDC could not read them): %w", err)
		}
	}
	return len(applied), nil
}

// --- deploy ---

func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func (r *run) paydConfig() (string, error) {
	s, err := r.loadSecrets()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# written by xckit install: payd on openGauss\nlisten: %s\ndsn: %s\nshutdown_timeout: 15s\nmerchants:\n", r.o.Listen, r.o.DB)
	for _, m := range s.Merchants {
		fmt.Fprintf(&b, "  - id: %s\n    key: %s\n", m.ID, m.Key)
	}
	return b.String(), nil
}

type deployStep struct {
	what string
	do   func() error
}

func (r *run) deploySteps() ([]deployStep, error) {
	if r.o.PaydBin == "" {
		return nil, errors.New("no payd binary to deploy: build it (make build) or pass its path")
	}
	if _, err := os.Stat(r.o.PaydBin); err != nil {
		return nil, fmt.Errorf("payd binary: %w", err)
	}
	if err := writable(r.o.Prefix); err != nil {
		return nil, err
	}
	var steps []deployStep
	verDir := filepath.Join(r.o.paydDir(), r.o.Version)
	dst := filepath.Join(verDir, "payd")
	if fileHash(dst) != fileHash(r.o.PaydBin) {
		steps = append(steps, deployStep{"copy payd to " + dst, func() error { return copyFile(r.o.PaydBin, dst, 0o755) }})
	}
	if cur, _ := os.Readlink(r.o.current()); cur != r.o.Version {
		steps = append(steps, deployStep{"point " + r.o.current() + " at " + r.o.Version, func() error { return symlink(r.o.Version, r.o.current()) }})
	}
	cfg, err := r.paydConfig()
	if err != nil {
		return nil, err
	}
	if old, _ := os.ReadFile(r.o.etc("payd.yaml")); string(old) != cfg {
		steps = append(steps, deployStep{"write " + r.o.etc("payd.yaml") + " (mode 0600)", func() error { return writeAtomic(r.o.etc("payd.yaml"), []byte(cfg), 0o600) }})
	}
	return steps, nil
}

func planDeploy(ctx context.Context, r *run) ([]string, error) {
	steps, err := r.deploySteps()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range steps {
		out = append(out, "would "+s.what)
	}
	return out, nil
}

func applyDeploy(ctx context.Context, r *run) (int, error) {
	steps, err := r.deploySteps()
	if err != nil {
		return 0, err
	}
	for _, s := range steps {
		if err := r.act(); err != nil {
			return 0, err
		}
		if err := s.do(); err != nil {
			return 0, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return len(steps), nil
}

// writable checks, without creating anything, that dir can be created or written.
func writable(dir string) error {
	p := dir
	for {
		if _, err := os.Stat(p); err == nil {
			if err := syscall.Access(p, 2); err != nil { // W_OK
				return fmt.Errorf("prefix %s is not writable (%s: %v): choose --prefix elsewhere or run as a user who may write there", dir, p, err)
			}
			return nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("prefix %s: no existing parent directory", dir)
		}
		p = parent
	}
}

// --- service ---
