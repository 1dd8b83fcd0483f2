package installer

import (
	"context"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/xckit/xckit/internal/dbx"
)

// Secrets come from --secrets-file (YAML, mode 0600) or the environment
// (XCKIT_MERCHANT_ID, XCKIT_MERCHANT_KEY, XCKIT_CDC_PASSWORD).
type Secrets struct {
	Merchants []struct {
		ID  string `yaml:"id"`
		Key string `yaml:"key"`
	} `yaml:"merchants"`
	CDCPassword string `yaml:"cdc_password"`
}

// run is one install's working state.
type run struct {
	o       Options
	admin   *dbx.DB
	app     *dbx.DB
	secrets *Secrets
	actions int
	kill    func(actions int) error // a test's fault (install)
	notes   []string
	// started and exited are the payd this run started, when it started one.
	started int
	exited  chan struct{}
}

func (r *run) close() {
	if r.admin != nil {
		r.admin.Close()
	}
	if r.app != nil {
		r.app.Close()
	}
}

// act counts an action that changes something; a test's fault may stop the run here.
func (r *run) act() error {
	r.actions++
	if r.kill != nil {
		return r.kill(r.actions)
	}
	return nil
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *run) skipped(p Phase) bool {
	if p.Name == "os-tune" && !r.o.OSTune {
		return true
	}
	return slices.Contains(r.o.SkipPhases, p.Name)
}

func (r *run) adminDB(ctx context.Context) (*dbx.DB, error) {
	if r.admin != nil {
		return r.admin, nil
	}
	if r.o.AdminDB == "" {
		return nil, fmt.Errorf("--admin-db is needed for db-bootstrap (it is used for this phase only and never stored)")
	}
	db, err := dbx.Open(ctx, r.o.AdminDB, dbx.Options{AppName: "xckit-install"})
	if err != nil {
		return nil, fmt.Errorf("admin database: %w", err)
	}
	r.admin = db
	return db, nil
}

func (r *run) appDB(ctx context.Context) (*dbx.DB, error) {
	if r.app != nil {
		return r.app, nil
	}
	db, err := dbx.Open(ctx, r.o.DB, dbx.Options{AppName: "xckit-install"})
	if err != nil {
		return nil, fmt.Errorf("application database: %w", err)
	}
	r.app = db
	return db, nil
}

func (r *run) loadSecrets() (*Secrets, error) {
	if r.secrets != nil {
		return r.secrets, nil
	}
	s := &Secrets{}
	if f := r.o.SecretsFile; f != "" {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("--secrets-file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("--secrets-file %s is readable by others (mode %o): chmod 600 %s", f, st.Mode().Perm(), f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(b, s); err != nil {
			return nil, fmt.Errorf("--secrets-file %s: %v", f, err)
		}
	}
	if id, key := os.Getenv("XCKIT_MERCHANT_ID"), os.Getenv("XCKIT_MERCHANT_KEY"); len(s.Merchants) == 0 && id != "" && key != "" {
		s.Merchants = append(s.Merchants, struct {
			ID  string `yaml:"id"`
			Key string `yaml:"key"`
		}{id, key})
	}
	if s.CDCPassword == "" {
		s.CDCPassword = os.Getenv("XCKIT_CDC_PASSWORD")
	}
	if len(s.Merchants) == 0 {
		return nil, fmt.Errorf("no merchant key: give --secrets-file with merchants: [{id, key}] or set XCKIT_MERCHANT_ID and XCKIT_MERCHANT_KEY")
	}
	for i, m := range s.Merchants {
		if m.ID == "" || len(m.Key) < 16 {
			return nil, fmt.Errorf("secrets: merchants[%d] needs an id and a key of at least 16 characters", i)
		}
	}
	r.secrets = s
	return s, nil
}
