package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/internal/buildinfo"
	"github.com/xckit/xckit/platform"
	"github.com/xckit/xckit/profiles"
	"github.com/xckit/xckit/report"
)

func mergeCommand() *cli.Command {
	return &cli.Command{
		Name:  "merge",
		Usage: "join acceptance runs made at once from several generator hosts into one verdict (exact HDR merge)",
		UsageText: "xckit bench merge DIR... --profile P [--out DIR]\n\nExample:\n" +
			"   xckit bench merge results/bench-01/acceptance results/bench-02/acceptance --profile kunpeng920-kylinv10 --out results/acceptance",
		Flags: []cli.Flag{&cli.StringFlag{Name: "out", Value: "acceptance-merged", Usage: "evidence `DIR` of the merged verdict"}},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usage("bench merge needs the hosts' evidence directories")
			}
			p, err := profiles.Load(c.String("profile"))
			if err != nil {
				return profileError(err)
			}
			var runs []report.Results
			for _, d := range c.Args().Slice() {
				r, _, err := report.Load(d)
				if err != nil {
					return usage("%v", err)
				}
				runs = append(runs, r)
			}
			merged, err := report.Merge(p, runs, c.Args().Slice())
			if err != nil {
				return usage("%v", err)
			}
			merged.Command, merged.XckitVer = commandLine(os.Args), buildinfo.Version
			if err := report.Write(c.String("out"), merged); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if err := emit(c, merged, func(w io.Writer) error {
				for _, cs := range merged.Cases {
					verdict := "PASS"
					if !cs.Verdict.Pass {
						verdict = "FAIL: " + strings.Join(cs.Verdict.Reasons, "; ")
					}
					fmt.Fprintf(w, "%s: %d generators, achieved %.1f TPS, success %.3f%%, platform avg %.2f ms p99 %.2f ms: %s\n",
						cs.Case.Name, len(runs), cs.Summary.Achieved, cs.Summary.Success, cs.Summary.Platform.Avg, cs.Summary.Platform.P99, verdict)
				}
				_, err := fmt.Fprintf(w, "evidence: %s/report.html\n", c.String("out"))
				return err
			}); err != nil {
				return err
			}
			if !merged.Pass {
				return failed("the merged acceptance failed against profile %s", p.Name)
			}
			return nil
		},
	}
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "re-render an acceptance run's junit.xml, report.html and SHA256SUMS from its results.json",
		UsageText: "xckit report DIR|results.json\n\nExample:\n   xckit report acceptance-20261122T031500Z",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage("report needs a results DIR or results.json")
			}
			r, dir, err := report.Load(c.Args().First())
			if err != nil {
				return usage("%v", err)
			}
			if err := report.Render(dir, r); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return emit(c, map[string]string{"report": filepath.Join(dir, "report.html")}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s/report.html\n", dir)
				return err
			})
		},
	}
}

func prepareCommand() *cli.Command {
	return &cli.Command{
		Name:      "prepare",
		Usage:     "create the accounts and agreements a run needs on the platform's database (idempotent bulk load)",
		UsageText: "xckit bench prepare --db DSN [--accounts N] [--balance FEN] [--merchant ID]\n\nExample:\n   xckit bench prepare --db opengauss://pay:pw@10.0.0.5:5432/payd --accounts 10000",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "the platform's `DSN`", EnvVars: []string{"XCKIT_DB"}},
			&cli.IntFlag{Name: "accounts", Value: 1000, Usage: "accounts 1..N"},
			&cli.Int64Flag{Name: "balance", Value: 100_000_000, Usage: "balance of each account in fen"},
			&cli.StringFlag{Name: "merchant", EnvVars: []string{"XCKIT_MERCHANT_ID"}, Usage: "merchant of the agreements"},
			&cli.StringFlag{Name: "channels", Value: "tenpay,alipay,other", Usage: "payd's channels, in its configured order"},
		},
		Action: func(c *cli.Context) error {
			if c.String("db") == "" || c.String("merchant") == "" {
				return usage("--db and --merchant (or XCKIT_MERCHANT_ID) are needed")
			}
			db, err := openDSN(c, "db")
			if err != nil {
				return err
			}
			defer db.Close()
			start := time.Now()
			n, err := platform.Seed(c.Context, db, platform.SeedOptions{Accounts: c.Int("accounts"), Balance: c.Int64("balance"),
				Merchant: c.String("merchant"), Channels: strings.Split(c.String("channels"), ","), Customer: platform.TestTag + "seed-"})
			if err != nil {
				return failed("prepare: %w", err)
			}
			took := time.Since(start).Round(time.Millisecond)
			return emit(c, map[string]any{"accounts": c.Int("accounts"), "created": n, "seconds": took.Seconds()}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "prepared %d accounts (%d new) with agreements ag-seed-N in %s\n", c.Int("accounts"), n, took)
				return err
			})
		},
	}
}

func capacityCommand() *cli.Command {
	return &cli.Command{
		Name:  "capacity",
		Usage: "step the rate up until the profile case's latency or success limits break; report the highest rate that met them",
		UsageText: "xckit bench capacity --profile P --target URL [--case debit] [--start 500] [--step 500] [--max 10000] [--duration 15s] [--warmup 3s]\n\n" +
			"Example:\n   xckit bench capacity --profile lab --target http://127.0.0.1:28080 --start 1000 --step 500",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "case", Usage: "acceptance case whose scenario and limits apply (default: the first)"},
			&cli.Float64Flag{Name: "start", Value: 500, Usage: "first rate"},
			&cli.Float64Flag{Name: "step", Value: 500, Usage: "rate added at each step"},
			&cli.Float64Flag{Name: "max", Value: 10000, Usage: "highest rate tried"},
			&cli.DurationFlag{Name: "duration", Value: 15 * time.Second, Usage: "steady time of each step"},
			&cli.DurationFlag{Name: "warmup", Value: 3 * time.Second, Usage: "warm-up of each step"},
		}, loadFlags()...),
		Action: func(c *cli.Context) error {
			p, err := profiles.Load(c.String("profile"))
			if err != nil {
				return profileError(err)
			}
			if len(p.Acceptance.Cases) == 0 {
				return usage("profile %s has no acceptance cases to take limits from", p.Name)
			}
			cs := p.Acceptance.Cases[0]
			if name := c.String("case"); name != "" {
				found := false
				for _, x := range p.Acceptance.Cases {
					if x.Name == name {
						cs, found = x, true
					}
				}
				if !found {
					return usage("--case %s: profile %s has no such case", name, p.Name)
				}
			}
			l, err := newLoad(c, 1024)
			if err != nil {
				return err
			}
			w, err := l.workload(cs.Scenario, bench.RunID("cap"))
			if err != nil {
				return usage("case %s: %v", cs.Name, err)
			}
			show, done := progressLine(c.App.ErrWriter, cs.Name)
			steps, best, err := bench.Capacity(c.Context, w, bench.CapacityOptions{Case: cs, Start: c.Float64("start"), Step: c.Float64("step"), Max: c.Float64("max"),
				Run: bench.Options{Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), Resources: l.sampler, Progress: show},
				OnStep: func(st bench.CapacityStep) {
					done()
					v := "meets the limits"
					if !st.Verdict.Pass {
						v = strings.Join(st.Verdict.Reasons, "; ")
					}
					fmt.Fprintf(c.App.ErrWriter, "%.0f/s: achieved %.1f, success %.3f%%, platform avg %.2f ms p99 %.2f ms: %s\n",
						st.Rate, st.Summary.Achieved, st.Summary.Success, st.Summary.Platform.Avg, st.Summary.Platform.P99, v)
				}})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := struct {
				Case  string               `json:"case"`
				Best  float64              `json:"highest_rate_meeting_limits"`
				Steps []bench.CapacityStep `json:"steps"`
			}{cs.Name, best, steps}
			if len(steps) > 0 && !steps[0].Verdict.Pass {
				if err := emit(c, out, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "no %s rate met profile %s's limits: the first tried (%.0f/s) broke them: %s\n",
						cs.Name, p.Name, steps[0].Rate, strings.Join(steps[0].Verdict.Reasons, "; "))
					return err
				}); err != nil {
					return err
				}
				return failed("capacity: no rate met the limits; try a lower --start")
			}
			return emit(c, out, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "highest %s rate meeting profile %s's limits: %.0f TPS\n", cs.Name, p.Name, best)
				if err == nil && len(steps) > 0 && steps[len(steps)-1].Verdict.Pass {
					_, err = fmt.Fprintf(w, "(every rate tried met them: raise --max %.0f to find where they break)\n", c.Float64("max"))
				}
				return err
			})
		},
	}
}
