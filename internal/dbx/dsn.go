package dbx

import (
	"fmt"
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
	Host     string
	Port     int
	Database string
	Params   url.Values
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
	u, err := url.Parse(raw)
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
	d.Host = u.Hostname()
	if d.Host == "" {
		d.Host = "127.0.0.1"
	}
	switch fam {
	case FamilyPostgres:
		d.Port = 5432
	case FamilyMySQL:
		d.Port = 3306
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return DSN{}, fmt.Errorf("DSN %q: port %q is not a number between 1 and 65535", Redact(raw), p)
		}
		d.Port = n
	}
	d.Database = strings.TrimPrefix(u.Path, "/")
	if d.User == "" {
		return DSN{}, fmt.Errorf("DSN %q has no user: write scheme://user:password@host:port/db", Redact(raw))
	}
	return d, nil
}

// String renders the DSN as a URL with the password replaced by "xxxxx".
func (d DSN) String() string { return d.url(true) }

// URL renders the DSN with its password; use it only to hand to a driver.
func (d DSN) URL() string { return d.url(false) }

func (d DSN) url(redact bool) string {
	u := url.URL{Scheme: d.Scheme, Host: fmt.Sprintf("%s:%d", d.Host, d.Port), Path: "/" + d.Database}
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
