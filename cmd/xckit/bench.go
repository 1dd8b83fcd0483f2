package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/internal/dbx"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "drive load at payd and measure it (open loop at a fixed rate, or closed loop)",
		UsageText: "xckit bench run --scenario payment.debit --target URL (--rate TPS | --concurrency N) --duration D\n\nExample:\n   xckit bench run --scenario payment.debit --target http://127.0.0.1:28000 --rate 500 --duration 60s",
		Subcommands: []*cli.Command{acceptanceCommand(), capacityCommand(), mergeCommand(), prepareCommand(), {
			Name:  "run",
			Usage: "run one scenario and print the steady-state figures",
			UsageText: "xckit bench run --scenario NAME --target URL (--rate TPS | --concurrency N) --duration D\n" +
				"   [--warmup D] [--accounts N] [--db DSN | --no-prepare] [--out FILE]\n\n" +
				"Scenarios: " + scenarioList + ";\n" +
				"ycsb.a ... ycsb.f at database level (go-ycsb's core workloads; --target is then the database DSN);\n" +
				"http.get, plain GETs of --target (to measure the generator itself).\n" +
				"Merchant and key come from --merchant/--key or XCKIT_MERCHANT_ID/XCKIT_MERCHANT_KEY\n" +
				"(eval \"$(xckit lab env)\" sets them for the lab). A target without the seeded accounts is\n" +
				"prepared through --db first (or refused with --no-prepare).\n\nExample:\n" +
				"   xckit bench run --scenario payment.debit --target http://127.0.0.1:28000 --rate 500 --duration 30s --db \"$XCKIT_GAUSS_DSN\"",
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "scenario", Value: "payment.debit", Usage: scenarioList + ", ycsb.a ... ycsb.f (--target DSN), http.get"},
				&cli.Float64Flag{Name: "rate", Usage: "open loop at this many operations per second"},
				&cli.IntFlag{Name: "concurrency", Usage: "closed loop with N workers (or, with --rate, most operations in flight)"},
				&cli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "steady-state time"},
				&cli.DurationFlag{Name: "warmup", Value: 5 * time.Second, Usage: "warm-up, excluded from the figures"},
				&cli.StringFlag{Name: "out", Usage: "also write the full summary as JSON to `FILE`"},
				&cli.Int64Flag{Name: "records", Value: 10000, Usage: "ycsb.*: rows in usertable (loaded when the table holds another number, unless --no-prepare)"},
				&cli.StringSliceFlag{Name: "ycsb-prop", Usage: "ycsb.*: a go-ycsb core workload property `KEY=VALUE` (fieldcount, requestdistribution, insertorder, ...); repeatable"},
			}, loadFlags()...),
			Action: benchRun,
		}},
	}
}

func benchRun(c *cli.Context) error {
	scenario := c.String("scenario")
	_, payment := bench.APIScenarioNamed(scenario)
	_, isYCSB := bench.YCSBScenario(scenario)
	switch {
	case !payment && !isYCSB && scenario != "http.get":
		return usage("--scenario %q: use %s, ycsb.a ... ycsb.f, or http.get", scenario, scenarioList)
	case c.Float64("rate") < 0 || c.Int("concurrency") < 0:
		return usage("--rate and --concurrency cannot be negative")
	case c.Float64("rate") == 0 && c.Int("concurrency") == 0:
		return usage("give --rate TPS (open loop) or --concurrency N (closed loop)")
	case c.Duration("duration") <= 0 || c.Duration("warmup") < 0:
		return usage("--duration must be positive and --warmup not negative")
	}
	var (
		w       bench.Workload
		sampler *bench.SamplerOptions
		target  string
	)
	switch {
	case scenario == "http.get":
		if c.String("target") == "" {
			return usage("--target: give the URL to GET")
		}
		conns := c.Int("concurrency")
		if conns == 0 {
			conns = bench.DefaultInFlight(c.Float64("rate"))
		}
		w = &bench.HTTPGetWorkload{URL: c.String("target"), Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}}
		target = c.String("target")
		sampler = hostSampler(c)
	case isYCSB:
		y, db, err := ycsbWorkload(c, scenario)
		if err != nil {
			return err
		}
		defer db.Close()
		defer y.Close()
		w, target, sampler = y, db.DSN.String(), hostSampler(c)
	default:
		l, err := newLoad(c, max(c.Int("concurrency"), bench.DefaultInFlight(c.Float64("rate"))))
		if err != nil {
			return err
		}
		if w, err = l.workload(scenario, bench.RunID("bench")); err != nil {
			return usage("%v", err)
		}
		sampler, target = l.sampler, l.client.BaseURL
	}
	logger(c).Info("bench: running", "scenario", scenario, "target", dbx.Redact(target), "rate", c.Float64("rate"),
		"concurrency", c.Int("concurrency"), "warmup", c.Duration("warmup"), "duration", c.Duration("duration"))
	show, done := progressLine(c.App.ErrWriter, scenario)
	s, err := bench.Run(c.Context, w, bench.Options{Rate: c.Float64("rate"), Concurrency: c.Int("concurrency"),
		Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), Resources: sampler, Progress: show})
	done()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f := c.String("out"); f != "" {
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(f, append(b, '\n'), 0o644); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("write %s: %w", f, err)}
		}
	}
	return emit(c, s, func(wr io.Writer) error { return printSummary(wr, scenario, s) })
}

func printSummary(w io.Writer, scenario string, s *bench.Summary) error {
	load := fmt.Sprintf("closed loop, %d workers", s.Concurrency)
	if s.Mode == "open" {
		load = fmt.Sprintf("open loop at %.0f/s", s.TargetRate)
	}
	fmt.Fprintf(w, "%s, %s, %.0fs steady (+%.0fs warm-up)\n", scenario, load, s.Duration, s.Warmup)
	fmt.Fprintf(w, "achieved %.1f TPS, success %.3f%% (%d ok, %d failed), late starts %d, unstarted %d\n",
		s.Achieved, s.Success, s.OK, s.Failed, s.Late, s.Unstarted)
	rows := [][]any{}
	for _, d := range []struct {
		name string
		d    bench.Dist
	}{{"latency", s.Latency}, {"service", s.Service}, {"platform", s.Platform}} {
		if d.d.Count == 0 {
			continue
		}
		rows = append(rows, []any{d.name, f2(d.d.Avg), f2(d.d.P50), f2(d.d.P90), f2(d.d.P95), f2(d.d.P99), f2(d.d.P999), f2(d.d.Max)})
	}
	if err := table(w, []any{"(ms)", "AVG", "P50", "P90", "P95", "P99", "P99.9", "MAX"}, rows); err != nil {
		return err
	}
	if r := s.Resources; r != nil {
		fmt.Fprintf(w, "this host: CPU %.1f%% avg (generator %.1f%%, other processes %.1f%%), memory %.1f%%\n", r.Avg.HostCPU, r.Avg.GeneratorCPU, r.OtherCPU, r.Avg.HostMem)
		if r.PlatformSampled {
			fmt.Fprintf(w, "platform: CPU %.2f%% avg %.2f%% peak of its host, memory %.2f%% (%.0f MiB); its host: CPU %.1f%%, memory %.1f%%\n",
				r.Avg.PlatformCPU, r.Peak.PlatformCPU, r.Avg.PlatformMem, r.Avg.PlatformRSS/(1<<20), r.Avg.PlatformHostCPU, r.Avg.PlatformHostMem)
		} else if r.PlatformError != "" {
			fmt.Fprintf(w, "platform: not sampled: %s\n", r.PlatformError)
		}
	}
	if len(s.Errors) > 0 {
		classes := make([]string, 0, len(s.Errors))
		for k := range s.Errors {
			classes = append(classes, k)
		}
		sort.Strings(classes)
		for _, k := range classes {
			fmt.Fprintf(w, "error %s: %d\n", k, s.Errors[k])
		}
	}
	return nil
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// ycsbWorkload opens the target database and readies a go-ycsb core workload on it.
func ycsbWorkload(c *cli.Context, scenario string) (*bench.YCSBWorkload, *dbx.DB, error) {
	name, _ := bench.YCSBScenario(scenario)
	if c.String("target") == "" {
		return nil, nil, usage("--target: give the database DSN for %s", scenario)
	}
	if c.Int64("records") <= 0 {
		return nil, nil, usage("--records must be positive")
	}
	props := map[string]string{}
	for _, kv := range c.StringSlice("ycsb-prop") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, nil, usage("--ycsb-prop %q: give KEY=VALUE, as requestdistribution=uniform", kv)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	db, err := dbx.Open(c.Context, c.String("target"), dbx.Options{AppName: "xckit-bench", MaxOpenConns: max(c.Int("concurrency"), 64)})
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("--target: %w", err)}
	}
	y, err := bench.NewYCSB(bench.YCSBOptions{DB: db, Workload: name, Records: c.Int64("records"), Props: props})
	if err != nil {
		db.Close()
		return nil, nil, usage("%v", err)
	}
	if c.Bool("no-prepare") {
		return y, db, nil
	}
	start := time.Now()
	n, err := y.Prepare(c.Context)
	if err != nil {
		db.Close()
		return nil, nil, failed("%s: prepare usertable: %w", scenario, err)
	}
	if n > 0 {
		logger(c).Info("bench: loaded usertable", "rows", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return y, db, nil
}
