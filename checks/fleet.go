package checks

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Fleet is many hosts' reports merged (ansible's check.yml fetches one per host).
type Fleet struct {
	Schema  int            `json:"schema"`
	Hosts   []Report       `json:"hosts"`
	Summary map[Status]int `json:"summary"`
	Failed  []string       `json:"failed,omitempty"` // host: check ID
}

// LoadFleet reads JSON reports written by `xckit check -o json`.
func LoadFleet(files []string) (Fleet, error) {
	f := Fleet{Schema: 1, Summary: map[Status]int{}}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return f, err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil || r.Schema != 1 {
			return f, fmt.Errorf("%s is not an xckit check report (schema 1): %v", file, err)
		}
		f.Hosts = append(f.Hosts, r)
		for _, c := range r.Checks {
			f.Summary[c.Status]++
			if c.Status == Fail {
				f.Failed = append(f.Failed, r.Host.Hostname+": "+c.ID)
			}
		}
	}
	return f, nil
}

// WriteFleetText writes one table: a row per host and check that is not a pass.
func WriteFleetText(w io.Writer, f Fleet) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tPROFILE\tPASS\tWARN\tFAIL\tERROR\tSKIP")
	for _, r := range f.Hosts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.Host.Hostname, r.Profile, r.Summary[Pass], r.Summary[Warn], r.Summary[Fail], r.Summary[Error], r.Summary[Skip])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, id := range f.Failed {
		fmt.Fprintln(w, "FAIL "+id)
	}
	_, err := fmt.Fprintf(w, "%d hosts, %d checks failed\n", len(f.Hosts), len(f.Failed))
	return err
}

// WriteFleetJUnit writes one test suite per host.
func WriteFleetJUnit(w io.Writer, f Fleet) error {
	var all junitSuites
	for _, r := range f.Hosts {
		var b strings.Builder
		if err := WriteJUnit(&b, r); err != nil {
			return err
		}
		var one junitSuites
		if err := xml.Unmarshal([]byte(b.String()), &one); err != nil {
			return err
		}
		for _, s := range one.Suites {
			s.Name = r.Host.Hostname + ": " + s.Name
			all.Suites = append(all.Suites, s)
		}
	}
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
