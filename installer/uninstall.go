package installer

import (
	"context"
	"fmt"
	"gopkg.in/yaml.v3"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// Uninstall stops payd and removes what install put under the prefix (and the systemd
// unit). The database stays unless dropData, which drops the application's database
// and roles with the admin DSN.
func Uninstall(ctx context.Context, o Options, dropData bool) ([]string, error) {
	o = withDefaults(o)
	if dropData && o.DB == "" {
		// The installed configuration names the database: read it before it goes.
		dsn, err := installedDSN(o)
		if err != nil {
			return nil, fmt.Errorf("--drop-data needs the application's DSN: %w; give --db", err)
		}
		o.DB = dsn
	}
	r := &run{o: o}
	defer r.close()
	made := createdRoles(o) // read before the state directory goes
	var did []string
	if pid := r.paydPID(); pid != 0 {
		if err := stopPID(pid, 30*time.Second); err != nil {
			return did, err
		}
		did = append(did, fmt.Sprintf("stopped payd (pid %d)", pid))
	}
	if r.systemd() {
		if _, err := os.Stat("/etc/systemd/system/payd-xckit.service"); err == nil {
			if out, err := exec.CommandContext(ctx, "systemctl", "disable", "--now", "payd-xckit.service").CombinedOutput(); err != nil {
				return did, fmt.Errorf("systemctl disable --now payd-xckit.service: %v %s", err, out)
			}
			if err := os.Remove("/etc/systemd/system/payd-xckit.service"); err != nil {
				return did, fmt.Errorf("remove the systemd unit: %w", err)
			}
			if out, err := exec.CommandContext(ctx, "systemctl", "daemon-reload").CombinedOutput(); err != nil {
				return did, fmt.Errorf("systemctl daemon-reload: %v %s", err, out)
			}
			did = append(did, "removed the systemd unit")
		}
	}
	// The database and roles go before the files: the record of what install created
	// (state/created-roles) must outlive a drop that fails, for the rerun.
	if dropData {
		dropped, err := dropDatabase(ctx, r, o, made)
		did = append(did, dropped...)
		if err != nil {
			return did, err
		}
	} else {
		did = append(did, "kept the database (--drop-data --yes drops it)")
	}
	for _, d := range []string{"payd", "etc", "run", "log", "state"} {
		p := filepath.Join(o.Prefix, d)
		if _, err := os.Stat(p); err == nil {
			if err := os.RemoveAll(p); err != nil {
				return did, err
			}
			did = append(did, "removed "+p)
		}
	}
	os.Remove(o.Prefix) // only when empty
	return did, nil
}

// dropDatabase drops the application's database and role, and the CDC role when
// install created it.
func dropDatabase(ctx context.Context, r *run, o Options, made map[string]bool) ([]string, error) {
	var did []string
	app, err := dbx.ParseDSN(o.DB)
	if err != nil {
		return did, err
	}
	admin, err := r.adminDB(ctx)
	if err != nil {
		return did, err
	}
	q := admin.Dialect.QuoteIdent
	stmts := []string{
		fmt.Sprintf("DROP DATABASE IF EXISTS %s", q(app.Database)),
		fmt.Sprintf("DROP ROLE IF EXISTS %s", q(app.User)),
	}
	if made["xckit_cdc"] {
		stmts = append(stmts, "DROP ROLE IF EXISTS xckit_cdc")
	} else {
		did = append(did, "kept role xckit_cdc (install did not create it)")
	}
	for _, stmt := range stmts {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			return did, fmt.Errorf("%s: %w", stmt, err)
		}
		did = append(did, strings.ToLower(strings.Fields(stmt)[0])+" "+strings.Join(strings.Fields(stmt)[1:], " "))
	}
	return did, nil
}

// Upgrade deploys a new payd version beside the current one, flips current to it,
// restarts and waits for health. The previous version stays for RollbackApp.
func Upgrade(ctx context.Context, o Options) (string, error) {
	o = withDefaults(o)
	prev, err := os.Readlink(o.current())
	if err != nil {
		return "", fmt.Errorf("nothing installed under %s: run xckit install first", o.Prefix)
	}
	if prev == o.Version {
		return prev, fmt.Errorf("version %s is already current", prev)
	}
	r := &run{o: o}
	defer r.close()
	dst := filepath.Join(o.paydDir(), o.Version, "payd")
	if err := copyFile(o.PaydBin, dst, 0o755); err != nil {
		return prev, err
	}
	if err := writeAtomic(filepath.Join(o.paydDir(), "previous"), []byte(prev), 0o644); err != nil {
		return prev, err
	}
	return prev, flip(ctx, r, o.Version)
}

// RollbackApp flips current back to the version before the last upgrade and restarts:
// the application-level rollback of the emergency plans.
func RollbackApp(ctx context.Context, o Options) (string, error) {
	o = withDefaults(o)
	b, err := os.ReadFile(filepath.Join(o.paydDir(), "previous"))
	if err != nil {
		return "", fmt.Errorf("no previous version recorded under %s: nothing to roll back to", o.paydDir())
	}
	prev := strings.TrimSpace(string(b))
	cur, _ := os.Readlink(o.current())
	r := &run{o: o}
	defer r.close()
	if err := flip(ctx, r, prev); err != nil {
		return prev, err
	}
	return prev, writeAtomic(filepath.Join(o.paydDir(), "previous"), []byte(cur), 0o644)
}

func flip(ctx context.Context, r *run, version string) error {
	if _, err := os.Stat(filepath.Join(r.o.paydDir(), version, "payd")); err != nil {
		return fmt.Errorf("version %s is not deployed: %w", version, err)
	}
	if err := symlink(version, r.o.current()); err != nil {
		return err
	}
	if _, err := applyStart(ctx, r); err != nil {
		return err
	}
	_, err := applyHealth(ctx, r)
	return err
}

// StopApp stops the payd installed under prefix (SIGTERM: it finishes in-flight
// requests), if it runs.
func StopApp(prefix string) (bool, error) {
	r := &run{o: withDefaults(Options{Prefix: prefix})}
	pid := r.paydPID()
	if pid == 0 {
		return false, nil
	}
	return true, stopPID(pid, 30*time.Second)
}

// AppPID is the pid of the payd installed under prefix, or 0 when it does not run.
func AppPID(prefix string) int {
	return (&run{o: withDefaults(Options{Prefix: prefix})}).paydPID()
}

// StartApp starts the payd installed under prefix unless it runs, and waits until it
// answers /readyz on listen.
func StartApp(ctx context.Context, prefix, listen string, wait time.Duration) error {
	r := &run{o: withDefaults(Options{Prefix: prefix, Listen: listen, HealthWait: wait})}
	if r.paydPID() == 0 {
		if err := startSupervised(r); err != nil {
			return err
		}
	}
	_, err := applyHealth(ctx, r)
	return err
}

// installedDSN is the database DSN of the payd installed under the prefix.
func installedDSN(o Options) (string, error) {
	b, err := os.ReadFile(o.etc("payd.yaml"))
	if err != nil {
		return "", fmt.Errorf("no installed configuration: %w", err)
	}
	var cfg struct {
		DSN string `yaml:"dsn"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.DSN == "" {
		return "", fmt.Errorf("%s names no dsn (%v)", o.etc("payd.yaml"), err)
	}
	return cfg.DSN, nil
}
