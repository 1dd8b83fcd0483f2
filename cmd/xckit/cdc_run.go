package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/cutover"
	"github.com/xckit/xckit/internal/proc"
	"github.com/xckit/xckit/profiles"
)

func cdcRun(c *cli.Context) error {
	if r := c.String("reader"); r != cdc.ReaderSQL && r != cdc.ReaderStream {
		return usage("--reader %q: want %s or %s", r, cdc.ReaderSQL, cdc.ReaderStream)
	}
	spool, err := spoolFlags(c)
	if err != nil {
		return err
	}
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	err = cdc.Run(c.Context, cdc.RunOptions{Source: src, Target: dst, Slot: c.String("slot"), Batch: c.Int("batch"), Reader: c.String("reader"), Tables: patterns(c),
		PidFile: cdcPidFile(c), MetricsAddr: c.String("metrics-addr"), Log: logger(c), Spool: spool})
	var setup *cdc.SetupError
	switch {
	case err != nil && c.Context.Err() != nil:
		return nil // stopped (SIGTERM, Ctrl-C) before or while it started: nothing was applied half
	case errors.As(err, &setup):
		return usage("%v", err)
	case err != nil:
		return failed("%w", err)
	}
	return nil
}

// spoolFlags checks --spool-mb and --spool-dir (a directory the run may write in).
func spoolFlags(c *cli.Context) (*cdc.Spool, error) {
	mb := c.Int("spool-mb")
	if mb < 1 {
		return nil, usage("--spool-mb %d: want at least 1 (MiB of one transaction's changes held in memory)", mb)
	}
	dir := c.String("spool-dir")
	if dir != "" {
		f, err := os.CreateTemp(dir, "xckit-cdc-probe-*")
		if err != nil {
			return nil, usage("--spool-dir %s: cannot write there (%v): give a directory with room for the largest source transaction", dir, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return &cdc.Spool{Dir: dir, Bytes: int64(mb) << 20}, nil
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
	read := func() (cdc.Status, time.Time, error) {
		st, err := cdc.GetStatus(c.Context, src, dst, c.String("slot"))
		if err != nil {
			return st, time.Time{}, failed("cdc status: %w", err)
		}
		return st, time.Now(), nil
	}
	// The rates come from two readings: the one before (--watch), or one taken
	// --sample earlier.
	prev, prevAt, err := read()
	if err != nil {
		return err
	}
	if d := c.Duration("sample"); d > 0 {
		select {
		case <-c.Context.Done():
			return nil
		case <-time.After(d):
		}
	}
	for {
		st, at, err := read()
		if err != nil {
			return err
		}
		st.Since(prev, at.Sub(prevAt))
		prev, prevAt = st, at
		warnings := cdc.Judge(st, p)
		out := struct {
			cdc.Status
			Warnings []string `json:"warnings,omitempty"`
		}{st, warnings}
		if err := emit(c, out, func(w io.Writer) error {
			err := table(w, []any{"SLOT", "PLUGIN", "ACTIVE", "SOURCE LSN", "CONFIRMED", "APPLIED", "CAUGHT UP", "LAG BYTES", "LAG S", "RETAINED WAL", "APPLY/S", "SOURCE/S", "CATCH-UP ETA"},
				[][]any{{st.Slot, st.Plugin, st.Active, st.SourceLSN, st.ConfirmedLSN, st.AppliedLSN, st.CaughtUpLSN, st.LagBytes, fmt.Sprintf("%.1f", st.LagSeconds), profiles.ByteSize(st.RetainedBytes),
					rate(st.ApplyBytesPerS), rate(st.SourceBytesPerS), eta(st)}})
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

func cdcWait(c *cli.Context) error {
	src, dst, err := openSides(c, true)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	var lsn cdc.LSN
	if s := c.String("lsn"); s != "" {
		if lsn, err = cdc.ParsePosition(s); err != nil {
			return usage("--lsn: %v", err)
		}
	} else if lsn, err = cdc.SourcePosition(c.Context, src); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	start := time.Now()
	if err := cdc.WaitApplied(c.Context, dst, c.String("slot"), lsn, c.Duration("timeout")); err != nil {
		return failed("%w", err)
	}
	waited := time.Since(start).Round(time.Millisecond)
	pos := cdc.DescribePosition(c.Context, src, lsn)
	return emit(c, map[string]any{"applied_before": pos, "waited_seconds": waited.Seconds()}, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "applied everything before %s (waited %s)\n", pos, waited)
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
		if c.String("slot") == site.CDC.ForwardSlot {
			file = cutover.ForwardPidFile(site) // the forward run cutover prepare started
		}
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

// rate is bytes per second for the status table ("-": no second reading).
func rate(v *float64) string {
	if v == nil {
		return "-"
	}
	return profiles.ByteSize(int64(*v)).String()
}

// eta is the catch-up estimate for the status table.
func eta(st cdc.Status) string {
	switch {
	case st.CatchUpSeconds != nil:
		return (time.Duration(*st.CatchUpSeconds*float64(time.Second)) / time.Second * time.Second).String()
	case st.ApplyBytesPerS != nil && st.LagBytes > 0:
		return "not shrinking"
	}
	return "-"
}
