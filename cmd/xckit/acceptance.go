package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/buildinfo"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
	"github.com/xckit/xckit/report"
)

func acceptanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "acceptance",
		Usage: "run every acceptance case of the profile in order, judge each, and write the evidence",
		UsageText: "xckit bench acceptance --profile P --target URL [--out DIR] [--scale F] [--repeat N] [--db DSN]\n\n" +
			"Evidence in DIR: results.json, junit.xml, report.html (offline), SHA256SUMS, and all of them in\n" +
			"evidence.tar.gz. Exit 1 when a case fails. --repeat 3 is the certification mode: every case runs\n" +
			"three times and each resource figure may vary by at most 5% between the runs.\n\nExample:\n" +
			"   xckit bench acceptance --profile kunpeng920-kylinv10 --target http://10.0.0.21:8080 --out /var/lib/xckit/acceptance",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "evidence `DIR` (default acceptance-<time>)"},
			&cli.Float64Flag{Name: "scale", Value: 1, Usage: "multiply each case's duration and warm-up (0.1 for a quick rehearsal; certification runs use 1)"},
			&cli.Float64Flag{Name: "share", Value: 1, Usage: "this generator's share of each case's rate (1/N on each of N bench hosts; xckit bench merge joins them)"},
			&cli.IntFlag{Name: "repeat", Value: 1, Usage: "run every case N times and judge the variation of CPU, memory, disk and network between runs (certification: 3)"},
		}, loadFlags()...),
		Action: benchAcceptance,
	}
}

func benchAcceptance(c *cli.Context) error {
	p, err := profiles.Load(c.String("profile"))
	if err != nil {
		return profileError(err)
	}
	switch {
	case len(p.Acceptance.Cases) == 0:
		return usage("profile %s has no acceptance cases", p.Name)
	case c.Float64("scale") <= 0:
		return usage("--scale must be positive")
	case c.Float64("share") <= 0 || c.Float64("share") > 1:
		return usage("--share must be in (0, 1]")
	case c.Int("repeat") < 1 || c.Int("repeat") > 10:
		return usage("--repeat must be between 1 and 10")
	}
	for _, cs := range p.Acceptance.Cases {
		if _, ok := bench.APIScenarioNamed(cs.Scenario); !ok {
			return usage("profile %s, case %s: scenario %s is not runnable by this xckit (%s)", p.Name, cs.Name, cs.Scenario, scenarioList)
		}
	}
	l, err := newLoad(c, 256)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = "acceptance-" + time.Now().UTC().Format("20060102T150405Z")
	}
	res := report.Results{Schema: report.Schema, Kind: "acceptance", Started: time.Now().UTC(), Command: commandLine(os.Args),
		Profile: p.Name, Target: dbx.Redact(l.client.BaseURL), Host: checks.HostFingerprint(c.Context, "/"), XckitVer: buildinfo.Version, Pass: true}
	res.Database = l.database
	if res.System, err = l.client.Identify(c.Context); err != nil {
		logger(c).Warn("bench: the evidence will not name the system under test", "readyz", dbx.Redact(err.Error()))
	}
	if repeat := c.Int("repeat"); repeat > 1 {
		res.Repeat = repeat
	}
	ar, err := bench.Acceptance(c.Context, bench.AcceptanceOptions{Cases: p.Acceptance.Cases, Repeat: c.Int("repeat"),
		Scale: c.Float64("scale"), Share: c.Float64("share"), Resources: l.sampler, Log: c.App.ErrWriter,
		Workload: func(cs profiles.Case, _ int) (bench.Workload, error) {
			return l.workload(cs.Scenario, bench.RunID("acc-"+cs.Name))
		},
		Progress: func(label string) (func(bench.Progress), func()) { return progressLine(c.App.ErrWriter, label) }})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, r := range ar.Runs {
		res.Cases = append(res.Cases, report.Case{Case: r.Case, Run: r.Run, Summary: r.Summary, Verdict: r.Verdict})
	}
	res.Spreads, res.Pass = ar.Spreads, ar.Pass
	res.Finished = time.Now().UTC()
	if err := report.Write(out, res); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("evidence: %w", err)}
	}
	if err := emit(c, res, func(w io.Writer) error { return printAcceptance(w, res, out) }); err != nil {
		return err
	}
	if !res.Pass {
		return failed("acceptance failed against profile %s", p.Name)
	}
	return nil
}

func printAcceptance(w io.Writer, res report.Results, out string) error {
	var rows [][]any
	for _, cs := range res.Cases {
		verdict := "PASS"
		if !cs.Verdict.Pass {
			verdict = "FAIL: " + strings.Join(cs.Verdict.Reasons, "; ")
		}
		name := cs.Case.Name
		if cs.Run > 0 {
			name = fmt.Sprintf("%s #%d", name, cs.Run)
		}
		cpu, mem := "-", "-"
		if r := cs.Summary.Resources; r != nil && r.PlatformSampled {
			cpu, mem = f2(r.Avg.PlatformCPU), f2(r.Avg.PlatformMem)
		}
		rows = append(rows, []any{name, cs.Case.TPS.String(), f2(cs.Summary.Achieved), fmt.Sprintf("%.3f", cs.Summary.Success),
			f2(cs.Summary.Platform.Avg), f2(cs.Summary.Platform.P99), cpu, mem, verdict})
	}
	if err := table(w, []any{"CASE", "TARGET TPS", "ACHIEVED", "SUCCESS %", "PLATFORM AVG MS", "PLATFORM P99 MS", "CPU %", "MEM %", "VERDICT"}, rows); err != nil {
		return err
	}
	for _, cs := range res.Cases {
		classes := make([]string, 0, len(cs.Summary.Errors))
		for class := range cs.Summary.Errors {
			classes = append(classes, class)
		}
		sort.Strings(classes)
		for _, class := range classes {
			fmt.Fprintf(w, "%s: error %s: %d\n", cs.Case.Name, class, cs.Summary.Errors[class])
		}
		for _, warn := range cs.Verdict.Warnings {
			fmt.Fprintf(w, "%s: warning: %s\n", cs.Case.Name, warn)
		}
	}
	for _, sp := range res.Spreads {
		verdict := "pass"
		switch {
		case !sp.Judged:
			verdict = sp.Note
		case !sp.Pass && sp.Note != "":
			verdict = "FAIL: " + sp.Note
		case !sp.Pass:
			verdict = fmt.Sprintf("FAIL: above %.0f%%", bench.RepeatLimit)
		}
		fmt.Fprintf(w, "%s: %s varies %.2f%% between runs: %s\n", sp.Case, sp.Metric, sp.Variation, verdict)
	}
	_, err := fmt.Fprintf(w, "evidence: %s/report.html (results.json, junit.xml, SHA256SUMS, evidence.tar.gz)\n", out)
	return err
}
