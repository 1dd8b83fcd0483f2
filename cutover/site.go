package cutover

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
)

// Site is site.yaml: the two sides, the traffic switch, the CDC and the profile.
type Site struct {
	Profile string  `yaml:"profile"`
	New     NewSide `yaml:"new"`
	Legacy  Legacy  `yaml:"legacy"`
	Switch  Switch  `yaml:"switch"`
	CDC     CDC     `yaml:"cdc"`
	Smoke   Smoke   `yaml:"smoke"`
	file    string
}

// NewSide is openGauss and the payd installed by xckit install.
type NewSide struct {
	DB        string `yaml:"db"`         // the platform's DSN (its role is fenced read-only on rollback)
	AdminDB   string `yaml:"admin_db"`   // for the fence (ALTER ROLE), never printed
	CDCSource string `yaml:"cdc_source"` // DSN the CDC reads with (REPLICATION)
	Prefix    string `yaml:"prefix"`     // xckit install --prefix
	Listen    string `yaml:"listen"`
}

// Legacy is the legacy database and its application.
type Legacy struct {
	DB string `yaml:"db"`
	// AdminDB may fence the application's user (REVOKE/GRANT, end its sessions):
	// needed with cdc.forward.
	AdminDB string `yaml:"admin_db"`
	// CDCSource reads the binary log for forward CDC (REPLICATION SLAVE, REPLICATION
	// CLIENT, SELECT); default admin_db.
	CDCSource string `yaml:"cdc_source"`
	// CDCTarget is the user the reverse CDC writes with (default db). With
	// cdc.forward the application's user is fenced read-only, so it must be another.
	CDCTarget string            `yaml:"cdc_target"`
	Start     string            `yaml:"start"` // shell command that starts the legacy app
	Stop      string            `yaml:"stop"`  // shell command that stops it
	Ready     string            `yaml:"ready"` // URL that answers 200 when it is ready
	Wait      profiles.Duration `yaml:"wait"`  // how long to wait for Ready (default 60s)
}

// Switch is the traffic switch (the site's F5).
type Switch struct {
	Driver  string              `yaml:"driver"` // nginx, haproxy or exec
	Nginx   NginxSwitchConfig   `yaml:"nginx"`
	HAProxy HAProxySwitchConfig `yaml:"haproxy"`
	Exec    ExecSwitchConfig    `yaml:"exec"`
	Probe   string              `yaml:"probe"` // URL through the balancer for smoke tests
}

// CDC names the replication between the sides.
type CDC struct {
	Slot   string            `yaml:"slot"`
	Tables []string          `yaml:"tables"`
	Budget profiles.Duration `yaml:"budget"` // rollback's wait for the fence LSN (default: the profile's drain_timeout)
	// Forward: the cutover does not copy in its window; forward CDC (the legacy binary
	// log into openGauss, set up by xckit cutover prepare) keeps openGauss in step and
	// the window only drains it.
	Forward     bool   `yaml:"forward"`
	ForwardSlot string `yaml:"forward_slot"` // default xckit_forward
	// VerifySince: with forward, the window's verify compares every table's row count
	// and the rows changed in this period before the fence (0: every row).
	VerifySince profiles.Duration `yaml:"verify_since"`
}

// AppAdminDB is the admin DSN on the platform's database (admin_db may name another,
// such as postgres): forward CDC and the window's checks write and read there.
func (n NewSide) AppAdminDB() string {
	admin, err1 := dbx.ParseDSN(n.AdminDB)
	app, err2 := dbx.ParseDSN(n.DB)
	if err1 != nil || err2 != nil {
		return n.AdminDB
	}
	admin.Database = app.Database
	return admin.URL()
}

// ReverseTarget is the DSN the reverse CDC writes into the legacy database with (on
// legacy.db's database when it names none).
func (l Legacy) ReverseTarget() string {
	if l.CDCTarget != "" {
		return onDatabaseOf(l.CDCTarget, l.DB)
	}
	return l.DB
}

// BinlogSource is the DSN forward CDC reads the legacy binary log with (on legacy.db's
// database when it names none: the tables it replicates are there).
func (l Legacy) BinlogSource() string {
	if l.CDCSource != "" {
		return onDatabaseOf(l.CDCSource, l.DB)
	}
	return onDatabaseOf(l.AdminDB, l.DB)
}

// onDatabaseOf is dsn, on other's database when dsn names none.
func onDatabaseOf(dsn, other string) string {
	d, err1 := dbx.ParseDSN(dsn)
	o, err2 := dbx.ParseDSN(other)
	if err1 != nil || err2 != nil || d.Database != "" {
		return dsn
	}
	d.Database = o.Database
	return d.URL()
}

// Smoke is how the smoke test signs its payments.
type Smoke struct {
	Merchant  string `yaml:"merchant"`
	KeyEnv    string `yaml:"key_env"`
	Key       string `yaml:"key"`
	Agreement string `yaml:"agreement"`
	Channel   string `yaml:"channel"`
}

// LoadSite reads site.yaml strictly and checks what every command needs.
func LoadSite(file string) (*Site, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	var s Site
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("site %s: %s", file, withFields(b, strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	s.file = file
	if _, err := NewSwitcher(s.Switch); err != nil {
		return nil, fmt.Errorf("site %s: %w", file, err)
	}
	var missing []string
	for name, v := range map[string]string{"new.db": s.New.DB, "new.admin_db": s.New.AdminDB, "new.cdc_source": s.New.CDCSource,
		"new.prefix": s.New.Prefix, "new.listen": s.New.Listen, "legacy.db": s.Legacy.DB, "legacy.start": s.Legacy.Start,
		"legacy.stop": s.Legacy.Stop, "legacy.ready": s.Legacy.Ready, "switch.driver": s.Switch.Driver, "switch.probe": s.Switch.Probe,
		"smoke.merchant": s.Smoke.Merchant, "smoke.agreement": s.Smoke.Agreement} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("site %s: missing %s (see docs/site.md)", file, strings.Join(missing, ", "))
	}
	if s.CDC.Slot == "" {
		s.CDC.Slot = "xckit_cdc"
	}
	if s.CDC.ForwardSlot == "" {
		s.CDC.ForwardSlot = "xckit_forward"
	}
	if err := s.checkForward(); err != nil {
		return nil, fmt.Errorf("site %s: %w", file, err)
	}
	if s.Legacy.Wait <= 0 {
		s.Legacy.Wait = profiles.Duration(60 * time.Second)
	}
	if s.Smoke.Channel == "" {
		s.Smoke.Channel = "tenpay"
	}
	if s.Smoke.Key == "" && s.Smoke.KeyEnv != "" {
		s.Smoke.Key = os.Getenv(s.Smoke.KeyEnv)
	}
	if s.Smoke.Key == "" {
		return nil, fmt.Errorf("site %s: smoke.key or smoke.key_env (set in the environment) is needed to sign the smoke payment", file)
	}
	// It holds the admin DSN's password (and often the smoke key): only its owner may read it.
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("site %s is readable by others (%04o) and holds passwords: chmod 600 %s", file, st.Mode().Perm(), file)
	}
	return &s, nil
}

// checkForward checks what forward CDC needs of the site.
func (s *Site) checkForward() error {
	if !s.CDC.Forward {
		return nil
	}
	if s.Legacy.AdminDB == "" {
		return fmt.Errorf("cdc.forward needs legacy.admin_db (a legacy user that may REVOKE and GRANT the application's writes, for the fence)")
	}
	app, err := dbx.ParseDSN(s.Legacy.DB)
	if err != nil {
		return fmt.Errorf("legacy.db: %w", err)
	}
	rev, err := dbx.ParseDSN(s.Legacy.ReverseTarget())
	if err != nil {
		return fmt.Errorf("legacy.cdc_target: %w", err)
	}
	if rev.User == app.User {
		return fmt.Errorf("cdc.forward fences the legacy application's user %s read-only, and the reverse CDC writes with legacy.cdc_target "+
			"(default legacy.db): set legacy.cdc_target to a DSN of another user with write rights on %s", app.User, app.Database)
	}
	return nil
}

// withFields turns yaml.v3's "line N: ..." into "line N (field a.b): ..." using the
// document's own key lines.
func withFields(doc []byte, msg string) string {
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil {
		return msg
	}
	paths := map[int]string{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if prefix != "" {
					p = prefix + "." + p
				}
				paths[n.Content[i].Line] = p
				paths[n.Content[i+1].Line] = p
				walk(n.Content[i+1], p)
			}
		}
	}
	walk(&root, "")
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "unmarshal errors:" || line == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(line, "line %d:", &n); err == nil && paths[n] != "" {
			line = strings.Replace(line, fmt.Sprintf("line %d:", n), fmt.Sprintf("line %d (field %s):", n, paths[n]), 1)
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}
