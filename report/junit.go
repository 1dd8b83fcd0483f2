package report

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/xckit/xckit/bench"
)

type suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suite   suite    `xml:"testsuite"`
}

type suite struct {
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Cases    []testcase `xml:"testcase"`
}

type testcase struct {
	Name    string   `xml:"name,attr"`
	Class   string   `xml:"classname,attr"`
	Time    string   `xml:"time,attr"`
	Failure *failure `xml:"failure,omitempty"`
	Out     string   `xml:"system-out,omitempty"`
}

type failure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders one test case per acceptance case.
func JUnit(r Results) []byte {
	s := suite{Name: "xckit acceptance (" + r.Profile + ")", Tests: len(r.Cases)}
	for _, c := range r.Cases {
		tc := testcase{Name: c.Case.Name + " (" + c.Case.Scenario + ")", Class: "xckit.acceptance"}
		if c.Run > 0 {
			tc.Name = fmt.Sprintf("%s (%s) run %d", c.Case.Name, c.Case.Scenario, c.Run)
		}
		if c.Summary != nil {
			tc.Time = fmt.Sprintf("%.1f", c.Summary.Duration)
			tc.Out = fmt.Sprintf("achieved %.1f TPS, success %.3f%%, platform avg %.2f ms p99 %.2f ms, latency avg %.2f ms p99 %.2f ms",
				c.Summary.Achieved, c.Summary.Success, c.Summary.Platform.Avg, c.Summary.Platform.P99, c.Summary.Latency.Avg, c.Summary.Latency.P99)
		}
		if !c.Verdict.Pass {
			s.Failures++
			tc.Failure = &failure{Message: strings.Join(c.Verdict.Reasons, "; "), Text: strings.Join(c.Verdict.Reasons, "\n")}
		}
		s.Cases = append(s.Cases, tc)
	}
	for _, sp := range r.Spreads {
		if !sp.Judged {
			continue
		}
		s.Tests++
		tc := testcase{Name: fmt.Sprintf("%s: %s varies at most %.0f%% between runs", sp.Case, sp.Metric, bench.RepeatLimit), Class: "xckit.repeat",
			Out: fmt.Sprintf("values %v, variation %.2f%%", sp.Values, sp.Variation)}
		if !sp.Pass {
			s.Failures++
			msg := fmt.Sprintf("variation %.2f%% above %.0f%%", sp.Variation, bench.RepeatLimit)
			if sp.Note != "" {
				msg = sp.Note
			}
			tc.Failure = &failure{Message: msg, Text: tc.Out}
		}
		s.Cases = append(s.Cases, tc)
	}
	b, _ := xml.MarshalIndent(suites{Suite: s}, "", "  ")
	return append([]byte(xml.Header), append(b, '\n')...)
}
