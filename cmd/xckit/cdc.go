package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"gopkg.in/yaml.v3"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/cutover"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/profiles"
)

func cdcFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "read settings from a YAML `FILE` (source, target, slot, tables, plugin, batch, metrics_addr); flags win"},
		&cli.StringFlag{Name: "source", Usage: "openGauss (new side) `DSN`", EnvVars: []string{"XCKIT_CDC_SOURCE"}},
		&cli.StringFlag{Name: "target", Usage: "legacy database `DSN`", EnvVars: []string{"XCKIT_CDC_TARGET"}},
		&cli.StringFlag{Name: "slot", Value: "xckit_cdc", Usage: "replication slot `NAME`"},
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
	MetricsAddr string   `yaml:"metrics_addr"`
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
		"tables": strings.Join(cfg.Tables, ","), "plugin": cfg.Plugin, "metrics-addr": cfg.MetricsAddr} {
		if err := set(flag, v); err != nil {
			return usage("--config %s: %s: %v", file, flag, err)
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
	if src.Dialect.Family() != dbx.FamilyPostgres {
		src.Close()
		return nil, nil, usage("--source must be openGauss or PostgreSQL (got %s)", src.Dialect.Name())
	}
	if c.String("target") == "" {
		return src, nil, nil
	}
	dst, err := dbx.Open(c.Context, c.String("target"), dbx.Options{AppName: "xckit-cdc"})
	if err != nil {
		src.Close()
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("target: %w", err)}
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
					&cli.BoolFlag{Name: "create-tables", Usage: "create source tables missing on a MySQL/MariaDB target (type mapping: docs/cdc.md)"}),
				Action: cdcInit,
			},
			{
				Name:      "run",
				Usage:     "replicate in the foreground; SIGTERM finishes the batch in hand and exits 0",
				UsageText: "xckit cdc run --source DSN --target DSN [--slot NAME] [--batch N] [--metrics-addr ADDR]\n\nExample:\n   xckit cdc run --metrics-addr 127.0.0.1:9187",
				Flags: append(cdcFlags(),
					&cli.IntFlag{Name: "batch", Value: 5000, Usage: "changes per read (whole transactions)"},
					&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics on `ADDR`"},
					&cli.StringFlag{Name: "pid-file", Usage: "pid file for xckit cdc stop (default: $TMPDIR/xckit-cdc-<slot>.pid)"}),
				Action: cdcRun,
			},
			{
				Name:      "status",
				Usage:     "source LSN, slot, applied LSN, lag in bytes and seconds",
				UsageText: "xckit cdc status --source DSN --target DSN [--slot NAME] [--watch D] [-o json]\n\nWarns (exit 1) when the slot retains more WAL or lags more than the profile allows.\n\nExample:\n   xckit cdc status --watch 2s",
				Flags:     append(cdcFlags(), &cli.DurationFlag{Name: "watch", Usage: "refresh every `D` until interrupted"}),
				Action:    cdcStatus,
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
				UsageText: "xckit cdc copy --from DSN --to DSN [--tables a,b] [--chunk N] [--parallel N]\n\nExample:\n   xckit cdc copy --from mysql://payd:pw@legacy:3306/payd --to opengauss://pay:pw@new:5432/payd",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "from", Required: true, Usage: "source `DSN`"},
					&cli.StringFlag{Name: "to", Required: true, Usage: "target `DSN`"},
					&cli.StringFlag{Name: "tables", Usage: "comma-separated table patterns (default: all but xckit's own)"},
					&cli.IntFlag{Name: "chunk", Value: 5000, Usage: "rows per target transaction"},
					&cli.IntFlag{Name: "parallel", Value: 2, Usage: "tables copied at once"},
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

func cdcInit(c *cli.Context) error {
	if p := c.String("plugin"); p != "" {
		if _, err := cdc.DecoderFor(p); err != nil {
			return usage("--plugin: %v", err)
		}
	}
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	res, err := cdc.Init(c.Context, cdc.InitOptions{Source: src, Target: dst, Slot: c.String("slot"), Plugin: c.String("plugin"),
		Tables: patterns(c), CreateTables: c.Bool("create-tables")})
	if err != nil {
		return failed("cdc init: %w", err)
	}
	return emit(c, res, func(w io.Writer) error {
		verb := "exists"
		if res.SlotMade {
			verb = "created"
		}
		if len(res.Created) > 0 {
			fmt.Fprintf(w, "created on the target: %s\n", strings.Join(res.Created, ", "))
		}
		fmt.Fprintf(w, "slot %s (%s) %s at %s; checkpoint %s\ntables: %s\n", res.Slot, res.Plugin, verb, res.StartLSN, res.Checkpoint, strings.Join(res.Tables, ", "))
		return nil
	})
}

func cdcRun(c *cli.Context) error {
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	info, ok, err := cdc.SlotInfo(c.Context, src, c.String("slot"))
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if !ok {
		return usage("the source has no slot %s: run xckit cdc init first", c.String("slot"))
	}
	dec, err := cdc.DecoderFor(info.Plugin)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	release, err := cdc.LockSlot(c.Context, dst, c.String("slot"))
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer release()
	pidFile := cdcPidFile(c)
	if err := proc.WritePIDFile(pidFile, os.Getpid()); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("pid file: %w", err)}
	}
	defer os.Remove(pidFile)
	stats := &cdc.Stats{}
	if addr := c.String("metrics-addr"); addr != "" {
		stop, err := cdc.ServeMetrics(addr, stats, c.String("slot"))
		if err != nil {
			return usage("--metrics-addr: %v", err)
		}
		defer stop()
	}
	p := &cdc.Pipeline{Reader: cdc.NewSQLReader(src, c.String("slot"), dec, c.Int("batch")), Sink: cdc.NewSink(dst, c.String("slot")),
		Tables: patterns(c), Log: logger(c), Stats: stats}
	if err := p.Run(c.Context); err != nil {
		return failed("cdc run stopped: %w", err)
	}
	return nil
}

func cdcStatus(c *cli.Context) error {
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	p, err := profiles.Load(c.String("profile"))
	if err != nil {
		return profileError(err)
	}
	for {
		st, err := cdc.GetStatus(c.Context, src, dst, c.String("slot"))
		if err != nil {
			return failed("cdc status: %w", err)
		}
		var warnings []string
		if lim := p.Database.MaxRetainedWAL; lim > 0 && st.RetainedBytes > lim.Bytes() {
			warnings = append(warnings, fmt.Sprintf("the slot retains %s of WAL, more than the profile's %s: the legacy side is behind or cdc run is down", profiles.ByteSize(st.RetainedBytes), lim))
		}
		if lim := p.CDC.MaxLag; lim > 0 && st.LagSeconds > lim.D().Seconds() && st.LagBytes > 0 {
			warnings = append(warnings, fmt.Sprintf("lag %.1fs is above the profile's %s", st.LagSeconds, lim))
		}
		out := struct {
			cdc.Status
			Warnings []string `json:"warnings,omitempty"`
		}{st, warnings}
		if err := emit(c, out, func(w io.Writer) error {
			err := table(w, []any{"SLOT", "PLUGIN", "ACTIVE", "SOURCE LSN", "CONFIRMED", "APPLIED", "CAUGHT UP", "LAG BYTES", "LAG S", "RETAINED WAL"},
				[][]any{{st.Slot, st.Plugin, st.Active, st.SourceLSN, st.ConfirmedLSN, st.AppliedLSN, st.CaughtUpLSN, st.LagBytes, fmt.Sprintf("%.1f", st.LagSeconds), profiles.ByteSize(st.RetainedBytes)}})
			for _, w2 := range warnings {
				fmt.Fprintln(w, "WARNING: "+w2)
			}
			return err
		}); err != nil {
			return err
		}
		if c.Duration("watch") <= 0 {
			if len(warnings) > 0 {
				return failed("%s", strings.Join(warnings, "; "))
			}
			return nil
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-time.After(c.Duration("watch")):
		}
	}
}

func cdcDrop(c *cli.Context) error {
	if !c.Bool("yes") {
		return usage("cdc drop removes slot %s: the legacy side stops following. Add --yes to do it", c.String("slot"))
	}
	src, dst, err := openSides(c, false)
	if err != nil {
		return err
	}
	defer src.Close()
	if dst != nil {
		defer dst.Close()
	}
	if err := cdc.Drop(c.Context, src, dst, c.String("slot")); err != nil {
		return failed("cdc drop: %w", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "slot %s dropped\n", c.String("slot"))
	return nil
}

func cdcDecode(c *cli.Context) error {
	d, err := cdc.DecoderFor(c.String("plugin"))
	if err != nil {
		return usage("%v", err)
	}
	in := io.Reader(os.Stdin)
	name := "stdin"
	if f := c.String("in"); f != "" {
		fh, err := os.Open(f)
		if err != nil {
			return usage("--in: %v", err)
		}
		defer fh.Close()
		in, name = fh, f
	}
	if _, err := cdc.DecodeStream(in, c.App.Writer, d); err != nil {
		return failed("%s: %w", name, err)
	}
	return nil
}

func openDSN(c *cli.Context, flag string) (*dbx.DB, error) {
	db, err := dbx.Open(c.Context, c.String(flag), dbx.Options{AppName: "xckit"})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--%s: %w", flag, err)}
	}
	return db, nil
}

func cdcCopy(c *cli.Context) error {
	from, err := openDSN(c, "from")
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := openDSN(c, "to")
	if err != nil {
		return err
	}
	defer to.Close()
	rep, err := cdc.Copy(c.Context, cdc.CopyOptions{From: from, To: to, Tables: patterns(c), Chunk: c.Int("chunk"), Parallel: c.Int("parallel")})
	if err != nil {
		return failed("cdc copy: %w", err)
	}
	return emit(c, rep, func(w io.Writer) error {
		var rows [][]any
		for _, t := range rep.Tables {
			rows = append(rows, []any{t.Table, t.Rows, strings.Join(t.Sequences, " ")})
		}
		if err := table(w, []any{"TABLE", "ROWS", "SEQUENCES MOVED"}, rows); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "copied %d rows in %.1fs (%.0f rows/s)\n", rep.Rows, rep.Seconds, rep.RowsPerS)
		return err
	})
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "compare two databases row by row (exit 1 when they differ)",
		UsageText: "xckit verify --source DSN --target DSN [--tables a,b] [--max-diffs N] [-o json]\n\nExample:\n   xckit verify --source $NEW --target $LEGACY",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Usage: "`DSN` of the side that is right (openGauss during hot standby)", EnvVars: []string{"XCKIT_CDC_SOURCE"}},
			&cli.StringFlag{Name: "target", Usage: "`DSN` of the side checked against it", EnvVars: []string{"XCKIT_CDC_TARGET"}},
			&cli.StringFlag{Name: "tables", Usage: "comma-separated table patterns (default: all but xckit's own)"},
			&cli.IntFlag{Name: "max-diffs", Value: 20, Usage: "rows listed per table (counts are always complete)"},
			&cli.BoolFlag{Name: "repair", Usage: "say what would make the target equal the source (with --yes: do it)"},
			&cli.IntFlag{Name: "parallel", Value: 2, Usage: "tables compared at once"},
			&cli.TimestampFlag{Name: "since", Layout: time.RFC3339, Usage: "compare only rows changed at or after `TIME` (RFC 3339; by updated_at, else created_at)"},
			&cli.StringFlag{Name: "since-column", Usage: "the column --since reads (default updated_at, then created_at)"},
			&cli.BoolFlag{Name: "yes", Usage: "with --repair: apply"},
			&cli.StringFlag{Name: "config", Usage: "read source, target and tables from the cdc YAML `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if err := applyConfig(c); err != nil {
				return err
			}
			if c.String("source") == "" || c.String("target") == "" {
				return usage("verify needs --source and --target DSNs")
			}
			src, err := openDSN(c, "source")
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := openDSN(c, "target")
			if err != nil {
				return err
			}
			defer dst.Close()
			opts := cdc.VerifyOptions{Source: src, Target: dst, Tables: patterns(c), MaxDiffs: c.Int("max-diffs"), Repair: c.Bool("repair"), Parallel: c.Int("parallel")}
			if ts := c.Timestamp("since"); ts != nil {
				opts.Since = *ts
				if col := c.String("since-column"); col != "" {
					opts.SinceColumns = []string{col}
				}
			}
			if isTerminal(c.App.ErrWriter) {
				bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(c.App.ErrWriter), progressbar.OptionSetDescription("verify: rows compared"),
					progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(200*time.Millisecond))
				opts.Progress = func(n int64) { bar.Set64(n) }
				defer bar.Finish()
			}
			rep, err := cdc.Verify(c.Context, opts)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("verify: %w", err)}
			}
			if err := emit(c, rep, func(w io.Writer) error { return printVerify(w, rep) }); err != nil {
				return err
			}
			if rep.Equal() {
				return nil
			}
			if !c.Bool("repair") {
				return failed("the databases differ (xckit verify --repair shows what would make the target equal)")
			}
			for _, t := range rep.Tables {
				if t.Upserts+t.Deletes > 0 {
					fmt.Fprintf(c.App.ErrWriter, "repair %s: write %d rows from the source, delete %d extra rows\n", t.Table, t.Upserts, t.Deletes)
				}
			}
			if !c.Bool("yes") {
				return failed("the databases differ: add --yes to apply the repair above")
			}
			if err := cdc.ApplyRepair(c.Context, dst, rep); err != nil {
				return failed("repair: %w", err)
			}
			opts.Repair = false
			after, err := cdc.Verify(c.Context, opts)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("verify after repair: %w", err)}
			}
			fmt.Fprintln(c.App.ErrWriter, "after the repair:")
			printVerify(c.App.ErrWriter, after)
			if !after.Equal() {
				return failed("the databases still differ after the repair")
			}
			return nil
		},
	}
}

func printVerify(w io.Writer, rep cdc.VerifyReport) error {
	var rows [][]any
	for _, t := range rep.Tables {
		state := "equal"
		if !t.Equal() {
			state = "DIFFERENT"
		}
		rows = append(rows, []any{t.Table, t.SourceRows, t.TargetRows, t.Missing, t.Extra, t.Different, state})
	}
	if err := table(w, []any{"TABLE", "SOURCE ROWS", "TARGET ROWS", "MISSING", "EXTRA", "DIFFERENT", "RESULT"}, rows); err != nil {
		return err
	}
	for _, t := range rep.Tables {
		for _, d := range t.Diffs {
			cols := ""
			if len(d.Columns) > 0 {
				cols = " (" + strings.Join(d.Columns, ", ") + ")"
			}
			fmt.Fprintf(w, "%s %s: %s%s\n", t.Table, d.Kind, d.Key, cols)
		}
	}
	_, err := fmt.Fprintf(w, "compared %d rows in %.1fs (%.0f rows/s)\n", rep.Rows, rep.Seconds, rep.RowsPerS)
	return err
}

func cdcWait(c *cli.Context) error {
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	var lsn cdc.LSN
	if s := c.String("lsn"); s != "" {
		if lsn, err = cdc.ParseLSN(s); err != nil {
			return usage("--lsn: %v", err)
		}
	} else if lsn, err = cdc.CurrentLSN(c.Context, src); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	start := time.Now()
	if err := cdc.WaitApplied(c.Context, dst, c.String("slot"), lsn, c.Duration("timeout")); err != nil {
		return failed("%w", err)
	}
	waited := time.Since(start).Round(time.Millisecond)
	return emit(c, map[string]any{"applied_before": lsn.String(), "waited_seconds": waited.Seconds()}, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "applied everything before %s (waited %s)\n", lsn, waited)
		return err
	})
}

func cdcPidFile(c *cli.Context) string {
	if f := c.String("pid-file"); f != "" {
		return f
	}
	return filepath.Join(os.TempDir(), "xckit-cdc-"+c.String("slot")+".pid")
}

func cdcStop(c *cli.Context) error {
	file := cdcPidFile(c)
	if f := c.String("site"); f != "" {
		site, err := cutover.LoadSite(f)
		if err != nil {
			return usage("%v", err)
		}
		file = cutover.CDCPidFile(site)
	}
	if _, err := os.Stat(file); err != nil {
		return failed("no cdc run of slot %s on this host (%s: %v)", c.String("slot"), file, err)
	}
	pid := proc.ReadPIDFile(file)
	if pid == 0 {
		return usage("pid file %s does not hold a pid", file)
	}
	if !proc.Alive(pid, cutover.CDCRun) {
		os.Remove(file)
		return failed("cdc run pid %d is not running; removed its stale pid file", pid)
	}
	if err := proc.Stop(c.Context, pid, proc.StopOptions{Is: cutover.CDCRun, Grace: c.Duration("timeout")}); err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "cdc run pid %d stopped\n", pid)
	return nil
}
