package main

import (
	"fmt"
	"io"
	"os"
	"strings"

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
