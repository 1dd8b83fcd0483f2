package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

func cdcFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "read settings from a YAML `FILE` (source, target, slot, tables, plugin, batch, metrics_addr); flags win"},
		&cli.StringFlag{Name: "source", Usage: "`DSN` read from: openGauss (reverse CDC), or the legacy MySQL/MariaDB (forward CDC, its binary log)", EnvVars: []string{"XCKIT_CDC_SOURCE"}},
		&cli.StringFlag{Name: "target", Usage: "`DSN` written to: the legacy database (reverse), or openGauss (forward)", EnvVars: []string{"XCKIT_CDC_TARGET"}},
		&cli.StringFlag{Name: "slot", Value: "xckit_cdc", Usage: "replication slot `NAME` (forward: the stream's name on the target, default " + cdc.ForwardSlot + ")"},
		&cli.StringFlag{Name: "tables", Usage: "comma-separated table patterns (default: all but xckit's own)"},
	}
}

// cdcConfig is the --config file of the cdc commands and verify.
type cdcConfig struct {
	Source      string   `yaml:"source"`
	Target      string   `yaml:"target"`
	Slot        string   `yaml:"slot"`
	Tables      []string `yaml:"tables"`
	Plugin      string   `yaml:"plugin"`
	Batch       int      `yaml:"batch"`
	Reader      string   `yaml:"reader"`
	MetricsAddr string   `yaml:"metrics_addr"`
	SpoolDir    string   `yaml:"spool_dir"`
	SpoolMB     int      `yaml:"spool_mb"`
}

// applyConfig fills the flags not given on the command line from --config.

func applyConfig(c *cli.Context) error {
	file := c.String("config")
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usage("--config: %v", err)
	}
	var cfg cdcConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return usage("--config %s: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	set := func(flag, v string) error {
		if v == "" || c.IsSet(flag) || !hasFlag(c, flag) {
			return nil
		}
		return c.Set(flag, v)
	}
	for flag, v := range map[string]string{"source": cfg.Source, "target": cfg.Target, "slot": cfg.Slot,
		"tables": strings.Join(cfg.Tables, ","), "plugin": cfg.Plugin, "metrics-addr": cfg.MetricsAddr, "reader": cfg.Reader, "spool-dir": cfg.SpoolDir} {
		if err := set(flag, v); err != nil {
			return usage("--config %s: %s: %v", file, flag, err)
		}
	}
	if cfg.SpoolMB > 0 {
		if err := set("spool-mb", fmt.Sprint(cfg.SpoolMB)); err != nil {
			return usage("--config %s: spool_mb: %v", file, err)
		}
	}
	if cfg.Batch > 0 {
		if err := set("batch", fmt.Sprint(cfg.Batch)); err != nil {
			return usage("--config %s: batch: %v", file, err)
		}
	}
	return nil
}

func hasFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func openSides(c *cli.Context, needTarget bool) (*dbx.DB, *dbx.DB, error) {
	if err := applyConfig(c); err != nil {
		return nil, nil, err
	}
	if c.String("source") == "" {
		return nil, nil, usage("--source DSN is needed (or XCKIT_CDC_SOURCE)")
	}
	if needTarget && c.String("target") == "" {
		return nil, nil, usage("--target DSN is needed (or XCKIT_CDC_TARGET)")
	}
	src, err := dbx.Open(c.Context, c.String("source"), dbx.Options{AppName: "xckit-cdc"})
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("source: %w", err)}
	}
	if cdc.IsForward(src) && !c.IsSet("slot") && hasFlag(c, "slot") {
		// Forward CDC (the legacy binary log into openGauss) has its own stream name.
		if err := c.Set("slot", cdc.ForwardSlot); err != nil {
			src.Close()
			return nil, nil, err
		}
	}
	if c.String("target") == "" {
		return src, nil, nil
	}
	dst, err := dbx.Open(c.Context, c.String("target"), dbx.Options{AppName: "xckit-cdc"})
	if err != nil {
		src.Close()
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("target: %w", err)}
	}
	if cdc.IsForward(src) == cdc.IsForward(dst) || (cdc.IsForward(src) && dst.Dialect.Family() != dbx.FamilyPostgres) {
		src.Close()
		dst.Close()
		return nil, nil, usage("--source %s and --target %s: CDC runs from openGauss (or PostgreSQL) into MySQL/MariaDB (reverse), "+
			"or from MySQL/MariaDB into openGauss (forward)", src.Dialect.Name(), dst.Dialect.Name())
	}
	return src, dst, nil
}

func patterns(c *cli.Context) []string {
	if c.String("tables") == "" {
		return nil
	}
	return strings.Split(c.String("tables"), ",")
}

func cdcCommand() *cli.Command {
	return &cli.Command{
		Name:      "cdc",
		Usage:     "keep the legacy database in step with openGauss (logical decoding), nothing lost, nothing twice",
		UsageText: "xckit cdc init|run|status|drop|decode ...\n\nExample:\n   xckit cdc init --source $NEW --target $LEGACY && xckit cdc run --source $NEW --target $LEGACY",
		Subcommands: []*cli.Command{
			{
				Name:      "init",
				Usage:     "check both sides, create the slot and the checkpoint (idempotent); run before the new side's first write",
				UsageText: "xckit cdc init --source DSN --target DSN [--slot NAME] [--plugin P] [--tables a,b]\n\nExample:\n   xckit cdc init --source opengauss://cdc:pw@10.0.0.5:5432/payd --target mysql://payd:pw@10.0.0.9:3306/payd",
				Flags: append(cdcFlags(), &cli.StringFlag{Name: "plugin", Usage: "decoding plugin (default: mppdb_decoding on openGauss, test_decoding on PostgreSQL)"},
					&cli.BoolFlag{Name: "create-tables", Usage: "create source tables missing on a MySQL/MariaDB target (type mapping: docs/cdc.md)"},
					&cli.BoolFlag{Name: "after-failover", Usage: "legacy has a checkpoint but the slot is missing on the node that accepts writes (or is ahead): make it there and name the gap for verify --repair (docs/rollback.md, \"The primary changed\")"}),
				Action: cdcInit,
			},
			{
				Name:      "run",
				Usage:     "replicate in the foreground; SIGTERM finishes the batch in hand and exits 0",
				UsageText: "xckit cdc run --source DSN --target DSN [--slot NAME] [--batch N] [--metrics-addr ADDR]\n\nExample:\n   xckit cdc run --metrics-addr 127.0.0.1:9187",
				Flags: append(cdcFlags(),
					&cli.IntFlag{Name: "batch", Value: 5000, Usage: "changes per read (whole transactions)"},
					&cli.IntFlag{Name: "spool-mb", Value: cdc.DefaultSpoolBytes >> 20, Usage: "MiB of one source transaction's changes held in memory; a larger transaction is written to --spool-dir as it arrives and read back as it is applied (still one target transaction)"},
					&cli.StringFlag{Name: "spool-dir", Usage: "where large transactions are spooled (default: the system's temporary directory); it needs room for the largest source transaction"},
					&cli.StringFlag{Name: "reader", Value: cdc.ReaderSQL, Usage: "how the reverse direction reads its slot: sql (peek and advance, every openGauss) or stream (the streaming replication protocol: lower lag and cost; the CDC user needs a replication line in pg_hba.conf)"},
					&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics on `ADDR`"},
					&cli.StringFlag{Name: "pid-file", Usage: "pid file for xckit cdc stop (default: $TMPDIR/xckit-cdc-<slot>.pid)"}),
				Action: cdcRun,
			},
			{
				Name:      "status",
				Usage:     "source LSN, slot, applied LSN, lag in bytes and seconds, apply rate and catch-up estimate",
				UsageText: "xckit cdc status --source DSN --target DSN [--slot NAME] [--watch D] [-o json]\n\nWarns (exit 1) when the slot retains more WAL or lags more than the profile allows.\n\nExample:\n   xckit cdc status --watch 2s",
				Flags: append(cdcFlags(), &cli.DurationFlag{Name: "watch", Usage: "refresh every `D` until interrupted"},
					&cli.DurationFlag{Name: "sample", Value: time.Second, Usage: "read twice, `D` apart, for the apply and source rates and the catch-up estimate (0: once, no rates)"}),
				Action: cdcStatus,
			},
			{
				Name:  "stop",
				Usage: "stop the cdc run of a slot on this host (SIGTERM: it finishes its batch) and wait for it",
				UsageText: "xckit cdc stop [--slot NAME] [--pid-file FILE | --site FILE] [--timeout D]\n\n" +
					"--site stops the run that xckit cutover (or the rollback's wait) started for that site.\n\nExample:\n   xckit cdc stop --site .xckit-lab/site.yaml",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "slot", Value: "xckit_cdc", Usage: "replication slot `NAME`"},
					&cli.StringFlag{Name: "pid-file", Usage: "pid file of the run (default: $TMPDIR/xckit-cdc-<slot>.pid)"},
					&cli.StringFlag{Name: "site", Usage: "site.yaml `FILE`: the run its cutover started (<prefix>/run/cdc.pid)"},
					&cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "wait this long for it to finish"},
				},
				Action: cdcStop,
			},
			{
				Name:      "wait",
				Usage:     "wait until everything committed on the source so far (or up to --lsn) is applied on the target",
				UsageText: "xckit cdc wait --source DSN --target DSN [--slot NAME] [--lsn X/Y] [--timeout D]\n\nExample:\n   xckit cdc wait --timeout 60s",
				Flags: append(cdcFlags(),
					&cli.StringFlag{Name: "lsn", Usage: "source position to wait for (default: the source's current position)"},
					&cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "give up after this long (exit 1)"}),
				Action: cdcWait,
			},
			{
				Name:      "drop",
				Usage:     "remove the slot from the source and its checkpoint from the target (needs --yes)",
				UsageText: "xckit cdc drop --source DSN [--target DSN] [--slot NAME] --yes",
				Flags:     append(cdcFlags(), &cli.BoolFlag{Name: "yes", Usage: "really drop: the source stops keeping WAL for it"}),
				Action:    cdcDrop,
			},
			{
				Name:      "copy",
				Usage:     "initial load between databases, either direction (chunked, parallel, idempotent); moves sequences past the copied keys",
				UsageText: "xckit cdc copy --from DSN --to DSN [--tables a,b] [--chunk N] [--parallel N] [--online [--slot NAME] [--max-rows-per-second N]]\n\nExamples:\n   xckit cdc copy --from mysql://payd:pw@legacy:3306/payd --to opengauss://pay:pw@new:5432/payd\n   xckit cdc copy --online --from mysql://repl:pw@legacy:3306/payd --to opengauss://xcadmin:pw@new:5432/payd",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "from", Required: true, Usage: "source `DSN`"},
					&cli.StringFlag{Name: "to", Required: true, Usage: "target `DSN`"},
					&cli.StringFlag{Name: "tables", Usage: "comma-separated table patterns (default: all but xckit's own)"},
					&cli.IntFlag{Name: "chunk", Value: 5000, Usage: "rows per target transaction (--online: per chunk, default 10000)"},
					&cli.IntFlag{Name: "parallel", Value: 2, Usage: "tables copied at once"},
					&cli.BoolFlag{Name: "online", Usage: "legacy MySQL/MariaDB into openGauss while legacy keeps serving: record the binary-log position, copy in key chunks (resumable), then forward CDC catches up"},
					&cli.StringFlag{Name: "slot", Value: cdc.ForwardSlot, Usage: "--online: the forward stream's `NAME`"},
					&cli.IntFlag{Name: "max-rows-per-second", Usage: "--online: copy at most this many rows a second (0: no limit)"},
				},
				Action: cdcCopy,
			},
			{
				Name:      "decode",
				Usage:     "decode captured plugin output (data column or `location | xid | data` lines) to JSON lines",
				UsageText: "xckit cdc decode --plugin mppdb_decoding|test_decoding|wal2json [--in FILE]\n\nExample:\n   xckit cdc decode --plugin mppdb_decoding --in captured.txt",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "plugin", Required: true, Usage: "mppdb_decoding, test_decoding or wal2json"},
					&cli.StringFlag{Name: "in", Usage: "input `FILE` (default stdin)"},
				},
				Action: cdcDecode,
			},
		},
	}
}
