package checks

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xckit/xckit/internal/atomicfile"
)

// WriteText writes the report as a table; colour only when colour is true (a TTY).
func WriteText(w io.Writer, r Report, colour bool) error {
	paint := func(s Status) string {
		label := strings.ToUpper(string(s))
		if !colour {
			return label
		}
		code := map[Status]string{Pass: "32", Warn: "33", Fail: "31", Error: "35", Skip: "90"}[s]
		return "\x1b[" + code + "m" + label + "\x1b[0m"
	}
	fmt.Fprintf(w, "host %s: %s, %d cores, %.1f GiB, %s, kernel %s; profile %s\n", r.Host.Hostname, r.Host.CPU, r.Host.Cores, r.Host.MemoryGB, r.Host.OS, r.Host.Kernel, r.Profile)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tEXPECTED\tACTUAL")
	for _, c := range r.Checks {
		status := paint(c.Status)
		if c.Ignored {
			status += " (ignored)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, c.ID, clip(c.Expected, 40), clip(c.Actual, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Checks {
		if c.Status != Fail && c.Status != Error && c.Status != Warn {
			continue
		}
		// The table clips; the cause (a refused password at the end of a connect
		// error, say) must be readable whole.
		if clip(c.Actual, 60) != strings.ReplaceAll(c.Actual, "\n", " ") {
			fmt.Fprintf(w, "- %s: %s\n", c.ID, strings.ReplaceAll(c.Actual, "\n", " "))
		}
		if c.Remedy != "" {
			fmt.Fprintf(w, "- %s: %s\n", c.ID, c.Remedy)
		}
	}
	_, err := fmt.Fprintf(w, "%d checks: %d pass, %d warn, %d fail, %d error, %d skip (%.2fs)\n", len(r.Checks),
		r.Summary[Pass], r.Summary[Warn], r.Summary[Fail], r.Summary[Error], r.Summary[Skip], r.Seconds)
	return err
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len([]rune(s)) > n {
		return string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// WriteJSON writes the report with its versioned schema.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one test case per check, for certification tooling.
func WriteJUnit(w io.Writer, r Report) error {
	s := junitSuite{Name: "xckit check (" + r.Profile + ")", Tests: len(r.Checks), Time: fmt.Sprintf("%.3f", r.Seconds)}
	for _, c := range r.Checks {
		class := "xckit." + strings.SplitN(c.ID, ".", 2)[0]
		jc := junitCase{Name: c.ID + ": " + c.Title, Classname: class, Output: fmt.Sprintf("expected: %s\nactual: %s", c.Expected, c.Actual)}
		msg := &junitMessage{Message: fmt.Sprintf("expected %s, got %s", c.Expected, c.Actual), Text: c.Remedy}
		switch c.Status {
		case Fail:
			jc.Failure = msg
			s.Failures++
		case Error:
			jc.Error = msg
			s.Errors++
		case Skip:
			jc.Skipped = &junitMessage{Message: c.Actual}
			s.Skipped++
		}
		s.Cases = append(s.Cases, jc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteFileAtomic writes a report file so that it is never seen half-written.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.WriteFunc(path, 0o644, write)
}
