// Command payd is the reference payment platform: a signed HTTP JSON API for
// agreements and debit/credit payments on openGauss/PostgreSQL or MySQL/MariaDB.
// This file wires the CLI only; the platform package does the work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // only served with --debug-addr, on loopback
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/internal/buildinfo"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	configFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "payd.yaml `FILE`", EnvVars: []string{"PAYD_CONFIG"}}
	app := &cli.App{
		Name:      "payd",
		Usage:     "the reference payment platform",
		UsageText: "payd --config payd.yaml [serve|migrate|seed|version]\n\nExample:\n   payd --config /opt/xckit/etc/payd.yaml",
		Writer:    stdout, ErrWriter: stderr,
		Flags: []cli.Flag{configFlag,
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the pid here while serving"},
			&cli.StringFlag{Name: "debug-addr", Usage: "serve Go's pprof on this loopback `ADDR` (e.g. 127.0.0.1:6060) for profiling"}},
		Action:          serve,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{Name: "serve", Usage: "serve the API (the default)", Action: serve},
			{Name: "migrate", Usage: "apply the embedded schema migrations", UsageText: "payd --config payd.yaml migrate", Action: migrate},
			{Name: "seed", Usage: "bulk-load accounts and agreements (idempotent)",
				UsageText: "payd --config payd.yaml seed --accounts 10000 --balance 100000000",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "accounts", Value: 1000, Usage: "accounts 1..N"},
					&cli.Int64Flag{Name: "balance", Value: 100_000_000, Usage: "balance of each account in fen"},
					&cli.StringFlag{Name: "merchant", Usage: "merchant of the seeded agreements (default: the first configured)"},
				}, Action: seed},
			{Name: "version", Usage: "print version information", Action: func(c *cli.Context) error {
				i := buildinfo.Get("payd")
				fmt.Fprintf(c.App.Writer, "payd %s (commit %s, built %s, %s, %s/%s)\n", i.Version, i.Commit, i.Date, i.GoVersion, i.OS, i.Arch)
				return nil
			}},
		},
	}
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintln(stderr, "payd: "+dbx.Redact(err.Error()))
		return 2
	}
	return 0
}

func setup(c *cli.Context) (*platform.Config, *slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: lvl}))
	file := c.String("config")
	if file == "" {
		return nil, nil, errors.New("--config payd.yaml is required (or PAYD_CONFIG)")
	}
	cfg, err := platform.LoadConfig(file)
	return cfg, log, err
}

func serve(c *cli.Context) error {
	cfg, log, err := setup(c)
	if err != nil {
		return err
	}
	srv, err := platform.NewServer(c.Context, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	if addr := c.String("debug-addr"); addr != "" {
		if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("--debug-addr %q: give a loopback address such as 127.0.0.1:6060", addr)
		}
		go func() { log.Warn("pprof", "err", http.ListenAndServe(addr, nil)) }()
	}
	if pf := c.String("pid-file"); pf != "" {
		if err := os.WriteFile(pf, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		defer os.Remove(pf)
	}
	log.Info("payd: serving", "listen", ln.Addr().String(), "database", srv.Store().DB().Dialect.Name(),
		"channels", strings.Join(cfg.ChannelNames(), ","), "version", buildinfo.Version)
	return srv.Serve(c.Context, ln)
}

func migrate(c *cli.Context) error {
	cfg, log, err := setup(c)
	if err != nil {
		return err
	}
	db, err := dbx.Open(c.Context, cfg.DSN, dbx.Options{AppName: "payd-migrate"})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := platform.Migrate(c.Context, db)
	if err != nil {
		return err
	}
	log.Info("payd: schema current", "applied", fmt.Sprint(applied), "version", platform.LatestVersion(db.Dialect), "database", db.Dialect.Name())
	return nil
}

func seed(c *cli.Context) error {
	cfg, log, err := setup(c)
	if err != nil {
		return err
	}
	db, err := dbx.Open(c.Context, cfg.DSN, dbx.Options{AppName: "payd-seed"})
	if err != nil {
		return err
	}
	defer db.Close()
	merchant := c.String("merchant")
	if merchant == "" {
		merchant = cfg.Merchants[0].ID
	}
	start := time.Now()
	n, err := platform.Seed(c.Context, db, platform.SeedOptions{Accounts: c.Int("accounts"), Balance: c.Int64("balance"),
		Merchant: merchant, Channels: cfg.ChannelNames()})
	if err != nil {
		return err
	}
	log.Info("payd: seeded", "accounts_created", n, "accounts", c.Int("accounts"), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
