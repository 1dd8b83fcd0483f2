package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/cutover"
	"github.com/xckit/xckit/internal/atomicfile"
	"github.com/xckit/xckit/profiles"
)

func switchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "site", Value: ".xckit-lab/site.yaml", Usage: "site description `FILE` (docs/site.md; xckit lab up writes the lab's)", EnvVars: []string{"XCKIT_SITE"}},
		&cli.BoolFlag{Name: "plan", Usage: "print every step; touch nothing"},
		&cli.BoolFlag{Name: "yes", Usage: "do it"},
		&cli.BoolFlag{Name: "resume", Usage: "continue a run that stopped"},
		&cli.StringFlag{Name: "report", Usage: "write the report as JSON to `FILE` (default <prefix>/state/<kind>-report.json)"},
	}
}

func switchOptions(c *cli.Context) (cutover.Options, error) {
	site, err := cutover.LoadSite(c.String("site"))
	if err != nil {
		return cutover.Options{}, usage("%v", err)
	}
	ref := site.Profile
	if c.IsSet("profile") || ref == "" {
		ref = c.String("profile")
	}
	p, err := profiles.Load(ref)
	if err != nil {
		return cutover.Options{}, profileError(err)
	}
	if !c.Bool("plan") && !c.Bool("yes") {
		return cutover.Options{}, usage("%s changes where traffic goes: --plan shows the steps, --yes does it", c.Command.Name)
	}
	return cutover.Options{Site: site, Profile: p, Plan: c.Bool("plan"), Resume: c.Bool("resume"), Out: progressWriter(c), Log: logger(c)}, nil
}

func finishSwitch(c *cli.Context, o cutover.Options, rep cutover.Report, err error) error {
	var rerr error
	// A run that changed nothing (nothing to do, refused) keeps the last real run's
	// report, the RTO/RPO evidence, unless --report names a file for it.
	unchanged := rep.Verdict == "nothing-to-do" || rep.Verdict == "refused" || rep.Verdict == ""
	if !o.Plan && (!unchanged || c.String("report") != "") {
		file := c.String("report")
		if file == "" {
			file = filepath.Join(o.Site.New.Prefix, "state", rep.Kind+"-report.json")
		}
		if rerr = writeSwitchReport(file, rep); rerr == nil {
			fmt.Fprintf(c.App.ErrWriter, "report: %s (%s)\n", file, strings.TrimSuffix(file, ".json")+".html")
		} else {
			fmt.Fprintf(c.App.ErrWriter, "report NOT written: %v\n", rerr)
		}
	}
	if c.String("output") == "json" {
		emit(c, rep, func(io.Writer) error { return nil })
	}
	if err != nil {
		return failed("%w", err)
	}
	if rerr != nil {
		return failed("%s finished, but its report (the RTO/RPO evidence) was not written: %w; fix the path and keep the output above", rep.Kind, rerr)
	}
	return nil
}

// writeSwitchReport writes the report as JSON and, beside it, as HTML.
func writeSwitchReport(file string, rep cutover.Report) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(file, append(b, '\n'), 0o644); err != nil {
		return err
	}
	page, err := rep.HTML()
	if err != nil {
		return err
	}
	return atomicfile.Write(strings.TrimSuffix(file, ".json")+".html", page, 0o644)
}

func cutoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "cutover",
		Usage: "switch traffic to the new system (and, after a rollback, forward again)",
		UsageText: "xckit cutover --site site.yaml --acceptance DIR (--plan | --yes) [--resume]\n\n" +
			"Steps: gates, drain, stop-legacy, unfence-new, copy, cdc-init, start-cdc, start-new, route-new, smoke.\n" +
			"With cdc.forward (after xckit cutover prepare), copy becomes fence-legacy, fence-binlog, wait-forward, verify, stop-forward.\n\nExample:\n   xckit cutover --site .xckit-lab/site.yaml --plan",
		Flags: append(switchFlags(),
			&cli.StringFlag{Name: "acceptance", Usage: "`DIR` of a passed xckit bench acceptance run against the new system (the gate)"},
			&cli.BoolFlag{Name: "skip-acceptance", Usage: "waive the acceptance gate (say why in the change record)"}),
		Subcommands: []*cli.Command{cutoverPrepareCommand()},
		Action: func(c *cli.Context) error {
			o, err := switchOptions(c)
			if err != nil {
				return err
			}
			o.Acceptance, o.SkipAcceptance = c.String("acceptance"), c.Bool("skip-acceptance")
			rep, err := cutover.Cutover(c.Context, o)
			return finishSwitch(c, o, rep, err)
		},
	}
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "put the legacy system back in one command, with nothing lost; reports RTO and RPO",
		UsageText: "xckit rollback --site site.yaml (--plan | --yes) [--resume] [--force-data-loss]\n\n" +
			"Steps: gates, drain, stop-new, fence-db, fence-lsn, wait-cdc, verify, stop-cdc, start-legacy, route-legacy, smoke.\n" +
			"A failed step aborts and restores the previous route. See docs/rollback.md.\n\nExample:\n   xckit rollback --site .xckit-lab/site.yaml --yes",
		Flags: append(switchFlags(), &cli.BoolFlag{Name: "force-data-loss", Usage: "openGauss is gone: skip the fence and the CDC wait, and report the window that may be lost"}),
		Action: func(c *cli.Context) error {
			o, err := switchOptions(c)
			if err != nil {
				return err
			}
			o.ForceDataLoss = c.Bool("force-data-loss")
			rep, err := cutover.Rollback(c.Context, o)
			return finishSwitch(c, o, rep, err)
		},
	}
}
