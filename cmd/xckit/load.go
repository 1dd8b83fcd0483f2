package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

// scenarioList names the platform scenarios (bench.APIScenarios) for help texts.
var scenarioList = bench.APIScenarioList()

// loadFlags are the flags of every command that drives payd: where, as whom, over
// which accounts, how to prepare them, and what resources to sample.
func loadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "target", Usage: "payd base `URL`", EnvVars: []string{"XCKIT_LB_URL"}},
		&cli.StringFlag{Name: "merchant", EnvVars: []string{"XCKIT_MERCHANT_ID"}, Usage: "merchant id"},
		&cli.StringFlag{Name: "key", EnvVars: []string{"XCKIT_MERCHANT_KEY"}, Usage: "merchant key (prefer the environment)"},
		&cli.StringFlag{Name: "sign-method", Value: platform.SignHMACSHA256, Usage: "hmac-sha256 or hmac-sm3"},
		&cli.IntFlag{Name: "accounts", Value: 1000, Usage: "seeded accounts 1..N to spread payments over"},
		&cli.StringFlag{Name: "channels", Value: "tenpay,alipay,other", Usage: "payd's channels, in its configured order"},
		&cli.StringFlag{Name: "db", EnvVars: []string{"XCKIT_DB"}, Usage: "the platform's database `DSN`: when the target lacks the seeded accounts, the run creates them there first"},
		&cli.BoolFlag{Name: "no-prepare", Usage: "refuse to run, instead of preparing, when the target lacks the seeded accounts"},
		&cli.StringFlag{Name: "metrics", Usage: "the platform's Prometheus `URL` for its CPU and memory (default: <target>/metrics)"},
		&cli.BoolFlag{Name: "no-resources", Usage: "do not sample resources (the profile's CPU and memory limits then fail as unjudged)"},
		&cli.StringFlag{Name: "system-processes", Value: strings.Join(bench.DefaultSystemProcesses, ","),
			Usage: "names of processes on this host that belong to the system under test; other busy processes are reported as noise"},
	}
}

// load is what a load command needs, built from loadFlags.
type load struct {
	client   *platform.Client
	accounts int
	channels []string
	sampler  *bench.SamplerOptions
	database map[string]string // the platform database's engine and key settings, with --db
}

func newLoad(c *cli.Context, conns int) (*load, error) {
	target := strings.TrimRight(c.String("target"), "/")
	switch {
	case target == "":
		return nil, usage("--target: give payd's base URL (or set XCKIT_LB_URL)")
	case c.String("merchant") == "" || c.String("key") == "":
		return nil, usage("--merchant and --key (or XCKIT_MERCHANT_ID and XCKIT_MERCHANT_KEY) are needed to sign requests")
	case c.Int("accounts") <= 0:
		return nil, usage("--accounts must be positive")
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usage("--target %q: give payd's base URL, as http://HOST:PORT", target)
	}
	l := &load{accounts: c.Int("accounts"), channels: strings.Split(c.String("channels"), ",")}
	l.client = &platform.Client{BaseURL: target, Merchant: c.String("merchant"), Key: c.String("key"), SignMethod: c.String("sign-method"),
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: max(conns, 64)}}}
	if l.sampler = hostSampler(c); l.sampler != nil {
		if l.sampler.MetricsURL = c.String("metrics"); l.sampler.MetricsURL == "" {
			l.sampler.MetricsURL = target + "/metrics"
		}
	}
	// One connection serves the evidence (what the database is) and the preparation.
	var db *dbx.DB
	if c.String("db") != "" {
		var err error
		if db, err = openDSN(c, "db"); err != nil {
			return nil, err
		}
		defer db.Close()
		l.database = bench.DatabaseFingerprint(c.Context, db)
	}
	start := time.Now()
	prep, err := bench.EnsurePrepared(c.Context, bench.PrepareOptions{Client: l.client, Accounts: l.accounts, Channels: l.channels,
		Balance: 100_000_000, DB: db, Refuse: c.Bool("no-prepare")})
	if err != nil {
		return nil, usage("%v", err)
	}
	if prep.Needed {
		logger(c).Info("bench: prepared the target", "missing", prep.Why, "accounts", l.accounts, "created", prep.Created, "took", time.Since(start).Round(time.Millisecond))
	}
	return l, nil
}

// hostSampler samples this host's resources, unless --no-resources (nil).
func hostSampler(c *cli.Context) *bench.SamplerOptions {
	if c.Bool("no-resources") {
		return nil
	}
	return &bench.SamplerOptions{SystemProcesses: splitList(c.String("system-processes"))}
}

// workload makes the workload of a scenario.
func (l *load) workload(scenario, runID string) (bench.Workload, error) {
	return bench.NewAPIWorkload(scenario, bench.APITarget{Client: l.client, Accounts: l.accounts, Channels: l.channels, RunID: runID})
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// progressLine shows a run's progress on w: a live line redrawn each second on a
// terminal, a plain line every five seconds otherwise (logs, CI). done ends it.
func progressLine(w io.Writer, label string) (show func(bench.Progress), done func()) {
	tty := isTerminal(w)
	show = func(p bench.Progress) {
		phase := "steady"
		if p.Warmup {
			phase = "warm-up"
		}
		line := fmt.Sprintf("%s: %s %3.0f%%  %5.0f ops/s  p99 %7.2f ms  errors %d  %s left", label, phase,
			100*p.Elapsed.Seconds()/p.Total.Seconds(), p.Rate, p.P99, p.Errors, (p.Total - p.Elapsed).Round(time.Second))
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		case int(p.Elapsed.Round(time.Second).Seconds())%5 == 0:
			fmt.Fprintln(w, line)
		}
	}
	done = func() {
		if tty {
			fmt.Fprint(w, "\r\033[K")
		}
	}
	return show, done
}
