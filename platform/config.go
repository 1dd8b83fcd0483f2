package platform

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is payd.yaml.
type Config struct {
	Listen          string        `yaml:"listen"`
	DSN             string        `yaml:"dsn"` // or $PAYD_DSN
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	CommonPool      int           `yaml:"common_pool"` // agreements, queries, readiness
	Channels        []Channel     `yaml:"channels"`
	Merchants       []Merchant    `yaml:"merchants"`
	ClockSkew       time.Duration `yaml:"clock_skew"` // accepted timestamp skew, default 5m
}

// Channel is one isolated payment channel (Tenpay, Alipay, ...).
type Channel struct {
	Name           string        `yaml:"name"`
	MaxConcurrency int           `yaml:"max_concurrency"`
	PoolSize       int           `yaml:"pool_size"`
	QueueTimeout   time.Duration `yaml:"queue_timeout"`
}

// Merchant is a client allowed to call payd, with its signing key.
type Merchant struct {
	ID     string `yaml:"id"`
	Key    string `yaml:"key,omitempty"`     // in the file (then the file must be 0600)
	KeyEnv string `yaml:"key_env,omitempty"` // or the name of an environment variable
}

var channelName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// DefaultChannels are the reference case's: Tenpay, Alipay, and the rest.
func DefaultChannels() []Channel {
	return []Channel{
		{Name: "tenpay", MaxConcurrency: 64, PoolSize: 16, QueueTimeout: 200 * time.Millisecond},
		{Name: "alipay", MaxConcurrency: 64, PoolSize: 16, QueueTimeout: 200 * time.Millisecond},
		{Name: "other", MaxConcurrency: 32, PoolSize: 8, QueueTimeout: 200 * time.Millisecond},
	}
}

// LoadConfig reads payd.yaml strictly. A file holding a key must not be readable by
// group or others. Environment: PAYD_DSN overrides dsn.
func LoadConfig(file string) (*Config, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %s", file, withFieldNames(data, err))
	}
	for _, m := range c.Merchants {
		if m.Key != "" && st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("config %s holds merchant keys and is readable by others (mode %o): chmod 600 %s, or use key_env", file, st.Mode().Perm(), file)
		}
	}
	if err := c.normalize(os.Getenv); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	return &c, nil
}

// normalize fills defaults and checks every field, naming the one that is wrong.
func (c *Config) normalize(getenv func(string) string) error {
	if v := getenv("PAYD_DSN"); v != "" {
		c.DSN = v
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DSN == "" {
		return errors.New("dsn: missing: set dsn: or PAYD_DSN (opengauss://, postgres:// or mysql://)")
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 15 * time.Second
	}
	if c.CommonPool == 0 {
		c.CommonPool = 8
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 5 * time.Minute
	}
	if len(c.Channels) == 0 {
		c.Channels = DefaultChannels()
	}
	seen := map[string]bool{}
	for i := range c.Channels {
		ch := &c.Channels[i]
		if !channelName.MatchString(ch.Name) {
			return fmt.Errorf("channels[%d].name: %q: lower-case letters, digits, '_' and '-'", i, ch.Name)
		}
		if seen[ch.Name] {
			return fmt.Errorf("channels[%d].name: %q appears twice", i, ch.Name)
		}
		seen[ch.Name] = true
		if ch.MaxConcurrency <= 0 {
			ch.MaxConcurrency = 64
		}
		if ch.PoolSize <= 0 {
			ch.PoolSize = 16
		}
		if ch.QueueTimeout <= 0 {
			ch.QueueTimeout = 200 * time.Millisecond
		}
	}
	if len(c.Merchants) == 0 {
		return errors.New("merchants: none: payd refuses unsigned traffic, so list at least one merchant with key or key_env")
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		if m.ID == "" {
			return fmt.Errorf("merchants[%d].id: missing", i)
		}
		if m.KeyEnv != "" {
			m.Key = getenv(m.KeyEnv)
			if m.Key == "" {
				return fmt.Errorf("merchants[%d].key_env: environment variable %s is empty or unset", i, m.KeyEnv)
			}
		}
		if len(m.Key) < 16 {
			return fmt.Errorf("merchants[%d].key: missing or shorter than 16 characters", i)
		}
	}
	return nil
}

// ChannelNames lists the configured channels.
func (c *Config) ChannelNames() []string {
	names := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		names[i] = ch.Name
	}
	return names
}

var lineMsg = regexp.MustCompile(`line (\d+): `)

// withFieldNames adds the YAML key to each "line N:" of a yaml.v3 error, so that
// "line 3: cannot unmarshal !!str `soon` into time.Duration" names shutdown_timeout.
func withFieldNames(data []byte, err error) string {
	var doc yaml.Node
	keys := map[string]string{}
	if yaml.Unmarshal(data, &doc) == nil {
		var walk func(n *yaml.Node, prefix string)
		walk = func(n *yaml.Node, prefix string) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					p := strings.TrimPrefix(prefix+"."+n.Content[i].Value, ".")
					keys[fmt.Sprint(n.Content[i].Line)] = p
					walk(n.Content[i+1], p)
				}
			}
			for i, c := range n.Content {
				if n.Kind == yaml.SequenceNode {
					walk(c, fmt.Sprintf("%s[%d]", prefix, i))
				} else if n.Kind == yaml.DocumentNode {
					walk(c, prefix)
				}
			}
		}
		walk(&doc, "")
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return lineMsg.ReplaceAllStringFunc(msg, func(m string) string {
		line := lineMsg.FindStringSubmatch(m)[1]
		if k, ok := keys[line]; ok {
			return "line " + line + ": " + k + ": "
		}
		return m
	})
}
