package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

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
		Tables: patterns(c), CreateTables: c.Bool("create-tables"), AfterFailover: c.Bool("after-failover")})
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
		if g := res.Gap; g != nil {
			since := "--since is not safe: nothing was applied before; compare everything"
			if !g.RepairSince.IsZero() {
				since = "--since " + g.RepairSince.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "GAP: legacy had everything up to %s; the new slot on %s starts at %s. What the source committed between may be missing in legacy.\n"+
				"next: xckit verify --repair --yes %s (same --source and --target), then xckit cdc run\n", g.From, g.Node, g.To, since)
		}
		return nil
	})
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
	if c.Bool("online") {
		return cdcCopyOnline(c, from, to)
	}
	rep, err := cdc.Copy(c.Context, cdc.CopyOptions{From: from, To: to, Tables: patterns(c), Chunk: c.Int("chunk"), Parallel: c.Int("parallel")})
	if err != nil {
		return failed("cdc copy: %w", err)
	}
	return emitCopied(c, rep.Tables, fmt.Sprintf("copied %d rows in %.1fs (%.0f rows/s)", rep.Rows, rep.Seconds, rep.RowsPerS), rep)
}

func emitCopied(c *cli.Context, tables []cdc.CopiedTable, summary string, rep any) error {
	return emit(c, rep, func(w io.Writer) error {
		var rows [][]any
		for _, t := range tables {
			rows = append(rows, []any{t.Table, t.Rows, strings.Join(t.Sequences, " ")})
		}
		if err := table(w, []any{"TABLE", "ROWS", "SEQUENCES MOVED"}, rows); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, summary)
		return err
	})
}

// cdcCopyOnline copies legacy into openGauss while legacy keeps serving, and leaves
// the forward stream to catch up (xckit cdc run --source <legacy> --target <openGauss>).
func cdcCopyOnline(c *cli.Context, from, to *dbx.DB) error {
	if !cdc.IsForward(from) || to.Dialect.Family() != dbx.FamilyPostgres {
		return usage("--online copies MySQL/MariaDB (--from, read with its binary log) into openGauss (--to); got %s into %s", from.Dialect.Name(), to.Dialect.Name())
	}
	if c.Int("max-rows-per-second") < 0 {
		return usage("--max-rows-per-second %d: give a positive rate, or 0 for no limit", c.Int("max-rows-per-second"))
	}
	chunk := c.Int("chunk")
	if !c.IsSet("chunk") {
		chunk = 10000
	}
	pr := newCopyProgress(c.App.ErrWriter, isTerminal(c.App.ErrWriter))
	rep, err := cdc.OnlineCopy(c.Context, cdc.OnlineCopyOptions{From: from, To: to, Slot: c.String("slot"), Tables: patterns(c),
		Chunk: chunk, Parallel: c.Int("parallel"), MaxRowsPerSecond: c.Int("max-rows-per-second"), Progress: pr.update, Log: logger(c)})
	pr.finish()
	if err != nil {
		return failed("cdc copy --online: %w", err)
	}
	verb := "copied"
	if rep.Resumed {
		verb = "finished a resumed copy:"
	}
	return emitCopied(c, rep.Tables, fmt.Sprintf("%s %d rows online in %.1fs (%.0f rows/s); forward stream %s starts at %s and is consistent once applied past %s:\n"+
		"  xckit cdc run --source <legacy> --target <openGauss> --slot %s", verb, rep.Rows, rep.Seconds, rep.RowsPerS, rep.Slot, rep.StartPos, rep.CatchUpPos, rep.Slot), rep)
}
