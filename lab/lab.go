package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/xckit/xckit/internal/atomicfile"
)

// Default ports of the lab's parts (loopback only).
const (
	DefaultGaussPort  = 25432
	DefaultLegacyPort = 23306
	DefaultLBPort     = 28000
	DefaultDir        = ".xckit-lab"
)

// Options says where the lab lives. Ports apply when the lab is first created; an
// existing lab keeps the ports recorded in its state file.
type Options struct {
	Dir        string
	GaussPort  int
	LegacyPort int
	LBPort     int
	PaydBin    string // payd binary for the lab's platforms; default: beside this executable
	// Parts limits the lab to some of its parts ("gauss", "legacy", "lb",
	// "legacy-app"); none means all. Tests that need only the databases use it.
	Parts []string
	// GaussStandbys is how many streaming standbys of gauss the lab runs (lab up
	// --gauss-standbys); more than the lab has adds them, fewer keeps them.
	GaussStandbys int
	// XckitBin is the xckit the lab's site.yaml names for starting and stopping the
	// legacy application (default: this executable).
	XckitBin string
	Log      *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if abs, err := filepath.Abs(o.Dir); err == nil {
		o.Dir = abs
	}
	if o.GaussPort == 0 {
		o.GaussPort = DefaultGaussPort
	}
	if o.LegacyPort == 0 {
		o.LegacyPort = DefaultLegacyPort
	}
	if o.LBPort == 0 {
		o.LBPort = DefaultLBPort
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// State is the lab's record of itself, <dir>/lab.json (mode 0600: it holds the lab's
// passwords).
type State struct {
	Dir           string `json:"dir"`
	GaussPort     int    `json:"gauss_port"`
	LegacyPort    int    `json:"legacy_port"`
	LBPort        int    `json:"lb_port"`
	GaussStandbys int    `json:"gauss_standbys,omitempty"`
	LegacyAppPort int    `json:"legacy_app_port"`
	NewAppPort    int    `json:"new_app_port"`
	MerchantID    string `json:"merchant_id"`
	MerchantKey   string `json:"merchant_key"`
	PaydBin       string `json:"payd_bin,omitempty"`
	// GaussInitialUser owns the cluster (gs_initdb's omm): reachable through the
	// socket only. GaussAdminUser is the kit's administrator, another role.
	GaussInitialUser string    `json:"gauss_initial_user"`
	GaussAdminUser   string    `json:"gauss_admin_user"`
	GaussAdminPass   string    `json:"gauss_admin_password"`
	GaussCDCUser     string    `json:"gauss_cdc_user"` // REPLICATION, SELECT on what the installer grants
	GaussCDCPass     string    `json:"gauss_cdc_password"`
	AppUser          string    `json:"app_user"`
	GaussAppPass     string    `json:"gauss_app_password"`
	LegacyAdminUser  string    `json:"legacy_admin_user"`
	LegacyAdminPass  string    `json:"legacy_admin_password"`
	LegacyAppPass    string    `json:"legacy_app_password"`
	Database         string    `json:"database"`
	CreatedAt        time.Time `json:"created_at"`
}

// appPorts places the platforms beside the balancer: 28081 (legacy) and 28080 (new)
// for the default lab, lb+81 and lb+80 for a lab on other ports (tests).
func appPorts(lbPort int) (legacy, new int) {
	return lbPort + 81, lbPort + 80
}

func statePath(dir string) string { return filepath.Join(dir, "lab.json") }

// loadState reads the state file; ok is false when the lab was never created.
func loadState(dir string) (State, bool, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, false, fmt.Errorf("lab state %s is damaged (%v): run `xckit lab down --purge --dir %s` and start again", statePath(dir), err, dir)
	}
	return s, true, nil
}

// writeFileAtomic writes a lab file so that it is never seen half-written.
func writeFileAtomic(file string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(file, data, mode)
}

func saveState(s State) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := writeFileAtomic(statePath(s.Dir), b, 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

func password() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "Xc" + hex.EncodeToString(b)
}

// ensureState loads the lab's state or creates it with fresh passwords.
func ensureState(o Options) (State, error) {
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return s, err
	}
	if ok {
		// Labs created by an older xckit lack the later fields: fill them in.
		changed := false
		if s.MerchantID == "" {
			s.MerchantID, s.MerchantKey, changed = LabMerchant, "lab-"+password(), true
		}
		if s.LegacyAppPort == 0 {
			s.LegacyAppPort, s.NewAppPort = appPorts(s.LBPort)
			changed = true
		}
		if o.GaussStandbys > s.GaussStandbys {
			s.GaussStandbys, changed = o.GaussStandbys, true
		}
		if o.PaydBin != "" && o.PaydBin != s.PaydBin {
			s.PaydBin, changed = o.PaydBin, true
		}
		if changed {
			return s, saveState(s)
		}
		return s, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return State{}, fmt.Errorf("create lab directory: %w", err)
	}
	s = State{
		Dir: o.Dir, GaussPort: o.GaussPort, LegacyPort: o.LegacyPort, LBPort: o.LBPort,
		GaussInitialUser: "omm", GaussAdminUser: "xcadmin", GaussAdminPass: password(),
		GaussCDCUser: "xckit_cdc", GaussCDCPass: password(),
		AppUser: "pay", GaussAppPass: password(),
		LegacyAdminUser: "xcadmin", LegacyAdminPass: password(), LegacyAppPass: password(),
		Database: "payd", CreatedAt: time.Now().UTC().Truncate(time.Second),
		MerchantID: LabMerchant, MerchantKey: "lab-" + password(), PaydBin: o.PaydBin,
		GaussStandbys: o.GaussStandbys,
	}
	s.LegacyAppPort, s.NewAppPort = appPorts(o.LBPort)
	return s, saveState(s)
}

// Part is one running piece of the lab.
type Part struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	PID     int    `json:"pid"`
	Port    int    `json:"port"`
	Running bool   `json:"running"`
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail"`
	// StoppedOnPurpose: a runbook stopped it (the legacy payd after a cutover); the lab
	// is healthy without it.
	StoppedOnPurpose bool `json:"stopped_on_purpose,omitempty"`
}

// Status is the state of the whole lab.
type Status struct {
	Dir   string `json:"dir"`
	Parts []Part `json:"parts"`
}

// Healthy reports whether every part answers.
func (s Status) Healthy() bool {
	for _, p := range s.Parts {
		if !p.Healthy && !p.StoppedOnPurpose {
			return false
		}
	}
	return len(s.Parts) > 0
}

// part is what each component implements.
type part interface {
	name() string
	up(ctx context.Context) error
	down(ctx context.Context) error
	status(ctx context.Context) Part
}

func parts(s State, o Options) ([]part, error) {
	g, err := newGauss(s, o)
	if err != nil {
		return nil, err
	}
	app := newLegacyApp(s, o.Log)
	// Named on its own (the site's legacy.start), the legacy payd starts whatever the
	// route; as part of the whole lab it respects the route a runbook chose.
	app.asked = slices.Contains(o.Parts, app.name())
	all := []part{g}
	for n := 1; n <= s.GaussStandbys; n++ {
		all = append(all, &standby{g: g, n: n})
	}
	all = append(all, newLegacy(s, o.Log), newLB(s, o.Log), app)
	if len(o.Parts) == 0 {
		return all, nil
	}
	var out []part
	for _, p := range all {
		if slices.Contains(o.Parts, p.name()) {
			out = append(out, p)
		}
	}
	if len(out) != len(o.Parts) {
		return nil, fmt.Errorf("unknown lab part in %v: the parts are gauss, gauss-standby<n> (lab up --gauss-standbys), legacy, lb, legacy-app", o.Parts)
	}
	return out, nil
}

// Restart stops and starts one part (tests: a database restarting under load).
func Restart(ctx context.Context, o Options, name string) error {
	o = o.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no lab in %s", o.Dir)
	}
	o.Parts = []string{name}
	ps, err := parts(s, o)
	if err != nil {
		return err
	}
	if err := ps[0].down(ctx); err != nil {
		return fmt.Errorf("lab %s: stop: %w", name, err)
	}
	if err := ps[0].up(ctx); err != nil {
		return fmt.Errorf("lab %s: start: %w", name, err)
	}
	return nil
}

// Up creates and starts whatever is missing and waits until every part answers.
// Running it twice changes nothing.
func Up(ctx context.Context, o Options) (Status, error) {
	o = o.withDefaults()
	s, err := ensureState(o)
	if err != nil {
		return Status{}, err
	}
	ps, err := parts(s, o)
	if err != nil {
		return Status{}, err
	}
	for _, p := range ps {
		o.Log.Info("lab: bringing up", "part", p.name())
		if err := p.up(ctx); err != nil {
			return Status{}, fmt.Errorf("lab %s: %w", p.name(), err)
		}
	}
	st := statusOf(ctx, s, ps)
	if !st.Healthy() {
		return st, fmt.Errorf("lab is up but not healthy: see `xckit lab status --dir %s`", s.Dir)
	}
	if len(o.Parts) == 0 {
		if err := writeSite(s, o); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Down stops every lab process by pid; purge also removes the directory.
func Down(ctx context.Context, o Options, purge bool) error {
	o = o.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil && !purge {
		return err
	}
	var errs []error
	if len(o.Parts) == 0 {
		// What the kit started under the lab (an installed payd, a cdc run) stops first:
		// the lab's own parts would otherwise go from under it, or it would outlive them.
		stopped, err := stopKitProcesses(o.Dir)
		for _, what := range stopped {
			o.Log.Warn("lab: stopped a process the kit started under the lab", "process", what)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if ok {
		ps, err := parts(s, o)
		if err != nil {
			return err
		}
		for i := len(ps) - 1; i >= 0; i-- {
			o.Log.Info("lab: stopping", "part", ps[i].name())
			if err := ps[i].down(ctx); err != nil {
				errs = append(errs, fmt.Errorf("lab %s: %w", ps[i].name(), err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if purge {
		if err := os.RemoveAll(o.Dir); err != nil {
			return fmt.Errorf("remove lab directory: %w", err)
		}
	}
	return nil
}

// StatusOf reports every part; a lab that was never created has no parts.
func StatusOf(ctx context.Context, o Options) (Status, error) {
	o = o.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return Status{Dir: o.Dir}, nil
	}
	ps, err := parts(s, o)
	if err != nil {
		return Status{}, err
	}
	return statusOf(ctx, s, ps), nil
}

func statusOf(ctx context.Context, s State, ps []part) Status {
	st := Status{Dir: s.Dir}
	for _, p := range ps {
		st.Parts = append(st.Parts, p.status(ctx))
	}
	return st
}

// Env is how programs and people reach the lab.
type Env struct {
	GaussDSN      string `json:"gauss_dsn"`
	GaussAdminDSN string `json:"gauss_admin_dsn"`
	// GaussCDCDSN is the CDC user's (REPLICATION, SELECT) on the platform's database.
	GaussCDCDSN string `json:"gauss_cdc_dsn"`
	// GaussPostgresDSN reaches the PostgreSQL behind the front through its socket, as
	// the initial user: for the lab's own tools (pg_recvlogical in the benchmarks) and
	// tests of xckit's PostgreSQL support, never for the kit's openGauss paths.
	GaussPostgresDSN string `json:"gauss_postgres_dsn"`
	// GaussPostgresTCP is host:port of that PostgreSQL over TCP (md5 and SCRAM logins,
	// roles xc_scram_user and xc_md5_user only): for tests that xckit's PostgreSQL
	// support keeps working.
	GaussPostgresTCP string `json:"gauss_postgres_tcp"`
	LegacyDSN        string `json:"legacy_dsn"`
	LegacyAdminDSN   string `json:"legacy_admin_dsn"`
	LBURL            string `json:"lb_url"`
	LegacyURL        string `json:"legacy_url"`
	MerchantID       string `json:"merchant_id"`
	MerchantKey      string `json:"merchant_key"`
}

// EnvOf returns the DSNs (with passwords: they are the lab's own) and URLs.
func EnvOf(o Options) (Env, error) {
	o = o.withDefaults()
	s, ok, err := loadState(o.Dir)
	if err != nil {
		return Env{}, err
	}
	if !ok {
		return Env{}, fmt.Errorf("no lab in %s: run `xckit lab up` first", o.Dir)
	}
	return s.env(), nil
}

// gaussNodes is the host list of the lab's gauss DSNs: the primary's front, then
// every standby's, and the parameter that keeps the driver on the node that
// accepts writes.
func (s State) gaussNodes() (hosts, params string) {
	hosts = fmt.Sprintf("127.0.0.1:%d", s.GaussPort)
	for n := 1; n <= s.GaussStandbys; n++ {
		hosts += fmt.Sprintf(",127.0.0.1:%d", s.GaussPort+2*n)
	}
	if s.GaussStandbys > 0 {
		params = "?target_session_attrs=read-write"
	}
	return hosts, params
}

func (s State) env() Env {
	hosts, params := s.gaussNodes()
	return Env{
		GaussDSN:         fmt.Sprintf("opengauss://%s:%s@%s/%s%s", s.AppUser, s.GaussAppPass, hosts, s.Database, params),
		GaussAdminDSN:    fmt.Sprintf("opengauss://%s:%s@%s/postgres%s", s.GaussAdminUser, s.GaussAdminPass, hosts, params),
		GaussCDCDSN:      fmt.Sprintf("opengauss://%s:%s@%s/%s%s", s.GaussCDCUser, s.GaussCDCPass, hosts, s.Database, params),
		GaussPostgresDSN: fmt.Sprintf("postgres://%s@localhost/%s?host=%s&port=%d", s.GaussInitialUser, s.Database, filepath.Join(s.Dir, "gauss"), s.GaussPort+1),
		GaussPostgresTCP: fmt.Sprintf("127.0.0.1:%d", s.GaussPort+1),
		LegacyDSN:        fmt.Sprintf("mysql://%s:%s@127.0.0.1:%d/%s", s.AppUser, s.LegacyAppPass, s.LegacyPort, s.Database),
		LegacyAdminDSN:   fmt.Sprintf("mysql://%s:%s@127.0.0.1:%d/", s.LegacyAdminUser, s.LegacyAdminPass, s.LegacyPort),
		LBURL:            fmt.Sprintf("http://127.0.0.1:%d", s.LBPort),
		LegacyURL:        fmt.Sprintf("http://127.0.0.1:%d", s.LegacyAppPort),
		MerchantID:       s.MerchantID,
		MerchantKey:      s.MerchantKey,
	}
}
