package cutover

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
	DB    string        `yaml:"db"`
	Start string        `yaml:"start"` // shell command that starts the legacy app
	Stop  string        `yaml:"stop"`  // shell command that stops it
	Ready string        `yaml:"ready"` // URL that answers 200 when it is ready
	Wait  time.Duration `yaml:"wait"`  // how long to wait for Ready (default 60s)
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
	Slot   string        `yaml:"slot"`
	Tables []string      `yaml:"tables"`
	Budget time.Duration `yaml:"budget"` // rollback's wait for the fence LSN (default: the profile's drain_timeout)
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
		return nil, fmt.Errorf("site %s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	s.file = file
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
	if s.Legacy.Wait <= 0 {
		s.Legacy.Wait = 60 * time.Second
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
	return &s, nil
}
