package report

import (
	"errors"
	"fmt"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/profiles"
)

// Merge joins acceptance runs made at once from several generator hosts (each with
// its --share of the rate) into one judged result: per case the summaries merge
// exactly (bench.Merge) and are judged against the profile's case. names label the
// runs (their evidence directories). The caller sets Command and XckitVer.
func Merge(p *profiles.Profile, runs []Results, names []string) (Results, error) {
	if len(runs) == 0 {
		return Results{}, errors.New("nothing to merge")
	}
	for i, r := range runs {
		if r.Repeat > 1 {
			return Results{}, fmt.Errorf("%s was run with --repeat %d: merge runs made once each", names[i], r.Repeat)
		}
	}
	first := runs[0]
	out := Results{Schema: Schema, Kind: "acceptance", Started: first.Started, Finished: first.Finished, Profile: p.Name,
		Target: first.Target, Host: first.Host, System: first.System, Database: first.Database, Pass: true}
	for _, r := range runs {
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
	}
	for _, cs := range p.Acceptance.Cases {
		var parts []*bench.Summary
		var hosts []string
		for i, r := range runs {
			found := false
			for _, rc := range r.Cases {
				if rc.Case.Name == cs.Name && rc.Summary != nil {
					parts, found = append(parts, rc.Summary), true
					hosts = append(hosts, fmt.Sprintf("%s (%s)", r.Host.Hostname, names[i]))
				}
			}
			if !found {
				return Results{}, fmt.Errorf("%s has no case %s", names[i], cs.Name)
			}
		}
		s, err := bench.Merge(parts, hosts)
		if err != nil {
			return Results{}, fmt.Errorf("case %s: %w", cs.Name, err)
		}
		v := bench.Judge(cs, s)
		out.Pass = out.Pass && v.Pass
		out.Cases = append(out.Cases, Case{Case: cs, Summary: s, Verdict: v})
	}
	return out, nil
}
