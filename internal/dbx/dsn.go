package dbx

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Family is the protocol family a DSN speaks.
type Family string

const (
	// FamilyPostgres covers openGauss and PostgreSQL (pgx).
	FamilyPostgres Family = "postgres"
	// FamilyMySQL covers MySQL and MariaDB (go-sql-driver/mysql).
	FamilyMySQL Family = "mysql"
)

// DSN is a parsed database URL. Its String method never shows the password.
type DSN struct {
	Scheme   string
	Family   Family
	User     string
	Password string
	Host     string // the first (or only) node
	Port     int
	// More are a cluster DSN's further nodes (opengauss://h1:5432,h2:5432/db): the
	// driver tries them in order, and with target_session_attrs=read-write keeps only
	// the one that accepts writes, the primary.
	More     []Endpoint
	Database string
	Params   url.Values
}

// Endpoint is one node's address.
type Endpoint struct {
	Host string
	Port int
}

func (e Endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Endpoints lists every node of the DSN, the first one first.
func (d DSN) Endpoints() []Endpoint {
	return append([]Endpoint{{d.Host, d.Port}}, d.More...)
}

// Cluster reports whether the DSN names more than one node.
func (d DSN) Cluster() bool { return len(d.More) > 0 }

// Node is the DSN of one of its nodes alone: the same user, database and parameters,
// without target_session_attrs (a check reaches standbys too).
func (d DSN) Node(e Endpoint) DSN {
	n := d
	n.Host, n.Port, n.More = e.Host, e.Port, nil
	n.Params = cloneValues(d.Params)
	n.Params.Del("target_session_attrs")
	if len(n.Params) == 0 {
		n.Params = nil
	}
	return n
}

// Nodes are the single-node DSNs of every node (one for a single-node DSN).
func (d DSN) Nodes() []DSN {
	var out []DSN
	for _, e := range d.Endpoints() {
		out = append(out, d.Node(e))
	}
	return out
}

var schemes = map[string]Family{
	"opengauss":  FamilyPostgres,
	"postgres":   FamilyPostgres,
	"postgresql": FamilyPostgres,
	"mysql":      FamilyMySQL,
	"mariadb":    FamilyMySQL,
}

// ParseDSN reads a database URL such as
// opengauss://pay:secret@10.0.0.5:5432/payd?sslmode=disable or
// mysql://legacy:secret@127.0.0.1:3306/payd. The error never contains the password.
func ParseDSN(raw string) (DSN, error) {
	if strings.TrimSpace(raw) == "" {
		return DSN{}, fmt.Errorf("empty DSN: give a URL such as opengauss://user:password@host:5432/db or mysql://user:password@host:3306/db")
	}
	// The hosts are read apart: url.Parse takes one host, and a cluster DSN lists
	// several (h1:5432,h2:5432,[fd00::3]:5432).
	withoutHosts, hostList := splitHosts(raw)
	u, err := url.Parse(withoutHosts)
	if err != nil {
		return DSN{}, fmt.Errorf("DSN %q is not a URL: give scheme://user:password@host:port/db", Redact(raw))
	}
	fam, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return DSN{}, fmt.Errorf("DSN %q: unknown scheme %q: use opengauss://, postgres://, postgresql:// or mysql://", Redact(raw), u.Scheme)
	}
	d := DSN{Scheme: strings.ToLower(u.Scheme), Family: fam, Params: u.Query()}
	if u.User != nil {
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
	}
	defPort := 5432
	if fam == FamilyMySQL {
		defPort = 3306
	}
	hosts := strings.Split(hostList, ",")
	if len(hosts) > 1 && fam != FamilyPostgres {
		return DSN{}, fmt.Errorf("DSN %q names %d hosts: only openGauss/PostgreSQL DSNs may list a cluster's nodes", Redact(raw), len(hosts))
	}
	for i, h := range hosts {
		e, err := parseEndpoint(h, defPort)
		if err != nil {
			return DSN{}, fmt.Errorf("DSN %q: host %d of %d: %w", Redact(raw), i+1, len(hosts), err)
		}
		if i == 0 {
			d.Host, d.Port = e.Host, e.Port
		} else {
			d.More = append(d.More, e)
		}
	}
	switch v := d.Params.Get("target_session_attrs"); v {
	case "", "any", "read-write", "read-only", "primary", "standby", "prefer-standby":
	default:
		return DSN{}, fmt.Errorf("DSN %q: target_session_attrs=%q: use read-write (the primary), or any, read-only, primary, standby, prefer-standby", Redact(raw), v)
	}
	d.Database = strings.TrimPrefix(u.Path, "/")
	if d.User == "" {
		return DSN{}, fmt.Errorf("DSN %q has no user: write scheme://user:password@host:port/db", Redact(raw))
	}
	return d, nil
}

// splitHosts takes the host list out of a URL: the URL with the single host "h" in
// its place, and the list. A URL without "://" is returned as it is.
func splitHosts(raw string) (string, string) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw, ""
	}
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	user, hosts := "", auth
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		user, hosts = auth[:at+1], auth[at+1:]
	}
	return raw[:i+3] + user + "h" + rest[end:], hosts
}

// parseEndpoint reads host, host:port or [v6]:port; an empty host is 127.0.0.1.
func parseEndpoint(s string, defPort int) (Endpoint, error) {
	e := Endpoint{Port: defPort}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") {
		host = strings.Trim(s, "[]")
	} else if strings.Contains(s, ":") {
		return e, fmt.Errorf("%q is not host:port", s)
	}
	e.Host = host
	if e.Host == "" {
		if port == "" && s != "" {
			return e, fmt.Errorf("%q is not host:port", s)
		}
		e.Host = "127.0.0.1"
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return e, fmt.Errorf("port %q is not a number between 1 and 65535", port)
		}
		e.Port = n
	}
	return e, nil
}

// String renders the DSN as a URL with the password replaced by "xxxxx".
func (d DSN) String() string { return d.url(true) }

// URL renders the DSN with its password; use it only to hand to a driver.
func (d DSN) URL() string { return d.url(false) }

func (d DSN) url(redact bool) string {
	var hosts []string
	for _, e := range d.Endpoints() {
		hosts = append(hosts, e.String())
	}
	u := url.URL{Scheme: d.Scheme, Host: strings.Join(hosts, ","), Path: "/" + d.Database}
	switch {
	case d.Password != "" && redact:
		u.User = url.UserPassword(d.User, "xxxxx")
	case d.Password != "":
		u.User = url.UserPassword(d.User, d.Password)
	default:
		u.User = url.User(d.User)
	}
	if len(d.Params) > 0 {
		// %20, not +, for a space: pgx reads a '+' in a query value literally, so
		// options=-c name=value would reach the server as "-c+name=value".
		u.RawQuery = strings.ReplaceAll(d.Params.Encode(), "+", "%20")
	}
	return u.String()
}

var (
	urlPassword = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]*)(@)`)
	kvPassword  = regexp.MustCompile(`(?i)\b(password|passwd|pwd)\s*=\s*('[^']*'|"[^"]*"|[^\s&;]*)`)
)

// Redact hides every password it can recognise in s: URL userinfo
// (scheme://user:pw@host) and key=value forms (password=pw). Use it on anything
// that may contain a DSN before it reaches a log, an error or a report.
func Redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}xxxxx${3}")
	return kvPassword.ReplaceAllString(s, "${1}=xxxxx")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
