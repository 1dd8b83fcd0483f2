package profiles

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Scenarios are the workload names acceptance cases may use (see bench).
var Scenarios = []string{
	"payment.debit", "payment.credit", "payment.mixed", "payment.agreement",
	"ycsb.a", "ycsb.b", "ycsb.c", "ycsb.d", "ycsb.e", "ycsb.f",
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// validate checks the meaning of a resolved profile. Lines come from the first file
// in the chain (leaf first) that sets the field.
func validate(p *Profile, chain []*source) Errors {
	var errs Errors
	bad := func(field, format string, args ...any) {
		file, line := locate(chain, field)
		errs = append(errs, FieldError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !nameRe.MatchString(p.Name) {
		bad("name", "%q is not a profile name: use lower-case letters, digits, '.', '_' and '-'", p.Name)
	}
	for i, a := range p.Host.Arch {
		if a != "arm64" && a != "amd64" {
			bad(fmt.Sprintf("host.arch[%d]", i), "unknown architecture %q: use arm64 (Kunpeng) or amd64", a)
		}
	}
	for i, o := range p.Host.OS {
		if o.ID == "" {
			bad(fmt.Sprintf("host.os[%d]", i), "missing id: the ID= of /etc/os-release, e.g. kylin, euleros, openEuler")
		}
	}
	if p.Host.MinCores < 0 {
		bad("host.min_cores", "must not be negative")
	}
	if !slices.Contains([]string{"", "never", "madvise", "always"}, p.Host.THP) {
		bad("host.thp", "%q: use never, madvise or always", p.Host.THP)
	}
	d := p.Host.Disk
	if d.WarnUsed > 0 && d.FailUsed > 0 && d.WarnUsed > d.FailUsed {
		bad("host.disk.warn_used", "%s is above fail_used %s: warn first, then fail", d.WarnUsed, d.FailUsed)
	}
	if d.WarnInodes > 0 && d.FailInodes > 0 && d.WarnInodes > d.FailInodes {
		bad("host.disk.warn_inodes", "%s is above fail_inodes %s", d.WarnInodes, d.FailInodes)
	}
	for i, port := range p.Host.Ports {
		if port <= 0 || port > 65535 {
			bad(fmt.Sprintf("host.ports[%d]", i), "%d is not a TCP port (1-65535)", port)
		}
	}
	if !slices.Contains([]string{"", "opengauss"}, p.Database.Engine) {
		bad("database.engine", "%q: xckit installs onto opengauss (PostgreSQL only as the lab stand-in: accept_postgresql: true)", p.Database.Engine)
	}
	for i, e := range p.Legacy.Engines {
		if e != "mysql" && e != "mariadb" {
			bad(fmt.Sprintf("legacy.engines[%d]", i), "%q: the legacy database is mysql or mariadb", e)
		}
	}
	seen := map[string]bool{}
	for i, c := range p.Acceptance.Cases {
		at := fmt.Sprintf("acceptance.cases[%d]", i)
		if c.Name == "" {
			bad(at+".name", "missing: every case has a name (debit, credit, ...)")
		} else if seen[c.Name] {
			bad(at+".name", "case %q appears twice: names must be unique", c.Name)
		}
		seen[c.Name] = true
		if !slices.Contains(Scenarios, c.Scenario) {
			bad(at+".scenario", "%q is not a scenario: use one of %s", c.Scenario, strings.Join(Scenarios, ", "))
		}
		if c.TPS <= 0 {
			bad(at+".tps", "missing or zero: the target rate, e.g. tps: 500")
		}
		if c.Duration <= 0 {
			bad(at+".duration", "missing or zero: how long the steady state runs, e.g. duration: 10m")
		}
		if c.Warmup < 0 {
			bad(at+".warmup", "must not be negative")
		}
		if c.MinSuccess <= 0 {
			bad(at+".min_success", "missing: the success rate the case must reach, e.g. min_success: 100%%")
		}
		if c.MaxAvgLatency <= 0 && c.MaxP95Latency <= 0 && c.MaxP99Latency <= 0 {
			bad(at, "no latency limit: set max_avg_latency, max_p95_latency or max_p99_latency")
		}
	}
	if p.CDC.BatchSize < 0 {
		bad("cdc.batch_size", "must not be negative")
	}
	return errs.sorted()
}

// locate finds which file of the chain sets a field, and on which line. A field no
// file sets is reported at its nearest set parent.
func locate(chain []*source, field string) (string, int) {
	for f := field; f != ""; f = parentPath(f) {
		for _, s := range chain {
			if line, ok := s.paths[f]; ok {
				return s.file, line
			}
		}
	}
	return chain[0].file, 0
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}
