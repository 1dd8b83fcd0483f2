package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cdc"
)

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
			after, err := cdc.RepairAndVerify(c.Context, opts, rep)
			if err != nil {
				return failed("%w", err)
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
