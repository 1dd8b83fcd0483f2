package installer

import (
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/xckit/xckit/profiles"
)

// Options drive an install.
type Options struct {
	Profile     *profiles.Profile
	DB          string // the application's DSN on openGauss: user, password, database
	AdminDB     string // an administrator's DSN, for db-bootstrap only; never stored
	Prefix      string // default /opt/xckit
	Listen      string // payd's address, default 127.0.0.1:8080
	SecretsFile string // merchant keys and the CDC password (YAML); else the environment
	PaydBin     string // the payd binary to deploy; default beside xckit
	Version     string // the version deployed (directory name under <prefix>/payd)
	Plan        bool
	Resume      bool
	SkipPhases  []string
	Ignore      []string // check IDs whose failure preflight accepts
	OSTune      bool     // run os-tune (applies sysctl/limits/THP fixes on this host)
	HostRoot    string   // for preflight and os-tune, default /
	Systemd     *bool    // nil: detect (PID 1 is systemd)
	HealthWait  time.Duration
	Out         io.Writer // the phase lines people read
	Log         *slog.Logger
}

func (o Options) journalPath() string    { return filepath.Join(o.Prefix, "state", "install.journal") }
func (o Options) etc(name string) string { return filepath.Join(o.Prefix, "etc", name) }

// createdRolesPath lists the cluster roles install created (uninstall --drop-data drops
// those, never one that was there before).
func (o Options) createdRolesPath() string { return filepath.Join(o.Prefix, "state", "created-roles") }
func (o Options) run(name string) string   { return filepath.Join(o.Prefix, "run", name) }
func (o Options) paydDir() string          { return filepath.Join(o.Prefix, "payd") }
func (o Options) current() string          { return filepath.Join(o.paydDir(), "current") }
