package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cutover"
)

// cutoverPrepareCommand is `xckit cutover prepare`: forward CDC set up online, before the
// window.
func cutoverPrepareCommand() *cli.Command {
	return &cli.Command{
		Name:  "prepare",
		Usage: "before the window (cdc.forward): copy legacy into openGauss online, then keep it in step with forward CDC in the background",
		UsageText: "xckit cutover prepare --site site.yaml [--max-rows-per-second N]\n\n" +
			"Resumes an interrupted copy; does nothing that is in place already. See docs/cutover.md.\n\nExample:\n   xckit cutover prepare --site .xckit-lab/site.yaml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "site", Value: ".xckit-lab/site.yaml", Usage: "site description `FILE`", EnvVars: []string{"XCKIT_SITE"}},
			&cli.IntFlag{Name: "max-rows-per-second", Usage: "copy at most this many rows a second (0: no limit)"},
		},
		Action: func(c *cli.Context) error {
			site, err := cutover.LoadSite(c.String("site"))
			if err != nil {
				return usage("%v", err)
			}
			if c.Int("max-rows-per-second") < 0 {
				return usage("--max-rows-per-second %d: give a positive rate, or 0 for no limit", c.Int("max-rows-per-second"))
			}
			pr := newCopyProgress(c.App.ErrWriter, isTerminal(c.App.ErrWriter))
			rep, err := cutover.Prepare(c.Context, cutover.PrepareOptions{Site: site, MaxRowsPerSecond: c.Int("max-rows-per-second"),
				Progress: pr.update, Out: progressWriter(c), Log: logger(c)})
			pr.finish()
			if err != nil {
				return failed("cutover prepare: %w", err)
			}
			return emit(c, rep, func(w io.Writer) error {
				if rep.Copy != nil {
					fmt.Fprintf(w, "copied %d rows online in %.1fs (%.0f rows/s); consistent once applied past %s\n", rep.Copy.Rows, rep.Copy.Seconds, rep.Copy.RowsPerS, rep.Copy.CatchUpPos)
				}
				st := rep.Status
				_, err := fmt.Fprintf(w, "forward CDC %s: %s; applied %s, source %s, lag %d bytes / %.1f s\n", st.Slot, rep.Started, st.CaughtUpLSN, st.SourceLSN, st.LagBytes, st.LagSeconds)
				return err
			})
		},
	}
}
