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
	"github.com/xckit/xckit/platform"
)

var scenarioDebitPct = map[string]int{"payment.debit": 100, "payment.credit": 0, "payment.mixed": 70}

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "drive load at payd and measure it (open loop at a fixed rate, or closed loop)",
		UsageText: "xckit bench run --scenario payment.debit --target URL (--rate TPS | --concurrency N) --duration D\n\nExample:\n   xckit bench run --scenario payment.debit --target http://127.0.0.1:28000 --rate 500 --duration 60s",
		Subcommands: []*cli.Command{acceptanceCommand(), capacityCommand(), mergeCommand(), prepareCommand(), {
			Name:  "run",
			Usage: "run one scenario and print the steady-state figures",
			UsageText: "xckit bench run --scenario payment.debit|payment.credit|payment.mixed --target URL\n" +
				"   (--rate TPS | --concurrency N) --duration D [--warmup D] [--accounts N] [--out FILE]\n\n" +
				"Merchant and key come from --merchant/--key or XCKIT_MERCHANT_ID/XCKIT_MERCHANT_KEY\n" +
				"(eval \"$(xckit lab env)\" sets them for the lab).\n\nExample:\n" +
				"   xckit bench run --scenario payment.debit --target http://127.0.0.1:28000 --concurrency 16 --duration 30s",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "scenario", Value: "payment.debit", Usage: "payment.debit, payment.credit or payment.mixed (70% debit)"},
				&cli.StringFlag{Name: "target", Usage: "payd base `URL`", EnvVars: []string{"XCKIT_LB_URL"}},
				&cli.Float64Flag{Name: "rate", Usage: "open loop at this many operations per second"},
				&cli.IntFlag{Name: "concurrency", Usage: "closed loop with N workers (or, with --rate, most operations in flight)"},
				&cli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "steady-state time"},
				&cli.DurationFlag{Name: "warmup", Value: 5 * time.Second, Usage: "warm-up, excluded from the figures"},
				&cli.IntFlag{Name: "accounts", Value: 1000, Usage: "seeded accounts 1..N to spread payments over"},
				&cli.StringFlag{Name: "channels", Value: "tenpay,alipay,other", Usage: "payd's channels, in its configured order"},
				&cli.StringFlag{Name: "merchant", EnvVars: []string{"XCKIT_MERCHANT_ID"}, Usage: "merchant id"},
				&cli.StringFlag{Name: "key", EnvVars: []string{"XCKIT_MERCHANT_KEY"}, Usage: "merchant key (prefer the environment)"},
				&cli.StringFlag{Name: "sign-method", Value: platform.SignHMACSHA256, Usage: "hmac-sha256 or hmac-sm3"},
				&cli.StringFlag{Name: "out", Usage: "also write the full summary as JSON to `FILE`"},
			},
			Action: benchRun,
		}},
	}
}

func benchRun(c *cli.Context) error {
	pct, ok := scenarioDebitPct[c.String("scenario")]
	switch {
	case !ok:
		return usage("--scenario %q: use payment.debit, payment.credit or payment.mixed", c.String("scenario"))
	case c.String("target") == "":
		return usage("--target: give payd's base URL (or set XCKIT_LB_URL)")
	case c.Float64("rate") <= 0 && c.Int("concurrency") <= 0:
		return usage("give --rate TPS (open loop) or --concurrency N (closed loop)")
	case c.String("merchant") == "" || c.String("key") == "":
		return usage("--merchant and --key (or XCKIT_MERCHANT_ID and XCKIT_MERCHANT_KEY) are needed to sign requests")
	case c.Int("accounts") <= 0:
		return usage("--accounts must be positive")
	}
	conc := max(c.Int("concurrency"), 64)
	client := &platform.Client{BaseURL: strings.TrimRight(c.String("target"), "/"), Merchant: c.String("merchant"), Key: c.String("key"),
		SignMethod: c.String("sign-method"), HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: 0}}}
	w := &bench.PaymentWorkload{Client: client, Accounts: c.Int("accounts"), Channels: strings.Split(c.String("channels"), ","),
		DebitPct: pct, RunID: bench.RunID("bench")}
	log := logger(c)
	log.Info("bench: running", "scenario", c.String("scenario"), "target", client.BaseURL, "rate", c.Float64("rate"),
		"concurrency", c.Int("concurrency"), "warmup", c.Duration("warmup"), "duration", c.Duration("duration"))
	s, err := bench.Run(c.Context, w, bench.Options{Rate: c.Float64("rate"), Concurrency: c.Int("concurrency"),
		Duration: c.Duration("duration"), Warmup: c.Duration("warmup")})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f := c.String("out"); f != "" {
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(f, append(b, '\n'), 0o644); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("write %s: %w", f, err)}
		}
	}
	return emit(c, s, func(wr io.Writer) error { return printSummary(wr, c.String("scenario"), s) })
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
