package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/checks"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/profiles"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "preflight the host, openGauss and the legacy database against the profile",
		UsageText: "xckit check [--profile P] [--scope host,db,legacy] [--db DSN] [--legacy DSN] [--ignore ID,...]\n" +
			"   [--fix [--yes]] [--host-root DIR] [-o text|json|junit] [--out FILE]\n\n" +
			"Exit code: 0 no failure, 1 a failure, 2 could not run.\n\nExample:\n" +
			"   xckit check --profile kunpeng920-kylinv10 --db opengauss://gaussdb:pw@10.0.0.5:5432/postgres -o junit --out check.xml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scope", Value: "host,db,legacy", Usage: "which groups: host, db, legacy"},
			&cli.StringFlag{Name: "db", Usage: "openGauss `DSN`", EnvVars: []string{"XCKIT_DB"}},
			&cli.StringFlag{Name: "legacy", Usage: "legacy database `DSN`", EnvVars: []string{"XCKIT_LEGACY"}},
			&cli.StringFlag{Name: "cdc-user", Usage: "the openGauss user the CDC will use (default: the --db user)"},
			&cli.StringFlag{Name: "ignore", Usage: "comma-separated check IDs whose failure becomes a warning"},
			&cli.BoolFlag{Name: "fix", Usage: "show the fixes for sysctl, limits and THP (with --yes: apply and persist them)"},
			&cli.BoolFlag{Name: "yes", Usage: "with --fix: apply"},
			&cli.StringFlag{Name: "host-root", Value: "/", Usage: "read the host's /proc, /sys and /etc under this `DIR`"},
			&cli.StringFlag{Name: "out", Usage: "also write the report (in -o's format) to `FILE`, atomically"},
		},
		Action: runCheck,
		Subcommands: []*cli.Command{{
			Name:      "merge",
			Usage:     "merge hosts' JSON reports into one fleet report (table, JSON or JUnit)",
			UsageText: "xckit check merge REPORT.json... [-o text|json|junit] [--out FILE]\n\nExample:\n   xckit check merge results/*/check.json -o junit --out fleet.xml",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "also write the fleet report to `FILE`"}},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return usage("check merge needs the hosts' JSON reports")
				}
				f, err := checks.LoadFleet(c.Args().Slice())
				if err != nil {
					return usage("%v", err)
				}
				write := func(w io.Writer) error {
					switch c.String("output") {
					case "json":
						enc := json.NewEncoder(w)
						enc.SetIndent("", "  ")
						return enc.Encode(f)
					case "junit":
						return checks.WriteFleetJUnit(w, f)
					}
					return checks.WriteFleetText(w, f)
				}
				if out := c.String("out"); out != "" {
					if err := checks.WriteFileAtomic(out, write); err != nil {
						return &exitError{code: exitUsage, err: err}
					}
				}
				if err := write(c.App.Writer); err != nil {
					return err
				}
				if len(f.Failed) > 0 {
					return failed("%d checks failed across %d hosts", len(f.Failed), len(f.Hosts))
				}
				return nil
			},
		}},
	}
}

func runCheck(c *cli.Context) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	p, err := profiles.Load(c.String("profile"))
	if err != nil {
		return profileError(err)
	}
	scopes := strings.Split(c.String("scope"), ",")
	list, err := checks.ForProfile(p, scopes)
	if err != nil {
		return usage("--scope: %v", err)
	}
	var ignore []string
	if s := c.String("ignore"); s != "" {
		ignore = strings.Split(s, ",")
		known := checks.IDs(list)
		for _, id := range ignore {
			if i := sort.SearchStrings(known, id); i >= len(known) || known[i] != id {
				return usage("--ignore %s: no such check in this scope (xckit check -o json lists the IDs)", id)
			}
		}
	}
	t := &checks.Target{Root: c.String("host-root"), Profile: p, CDCUser: c.String("cdc-user")}
	if st, err := os.Stat(t.Root); err != nil || !st.IsDir() {
		return usage("--host-root %s: not a directory", t.Root)
	}
	for _, s := range scopes {
		switch {
		case s == "db" && c.String("db") != "":
			t.DB, t.DBErr = dbx.Open(c.Context, c.String("db"), dbx.Options{AppName: "xckit-check"})
			if t.DB != nil {
				defer t.DB.Close()
			}
		case s == "legacy" && c.String("legacy") != "":
			t.Legacy, t.LegErr = dbx.Open(c.Context, c.String("legacy"), dbx.Options{AppName: "xckit-check"})
			if t.Legacy != nil {
				defer t.Legacy.Close()
			}
		}
	}
	rep := checks.Run(c.Context, list, t, ignore)

	write := func(w io.Writer) error {
		switch format {
		case "json":
			return checks.WriteJSON(w, rep)
		case "junit":
			return checks.WriteJUnit(w, rep)
		}
		return checks.WriteText(w, rep, isTerminal(w))
	}
	if f := c.String("out"); f != "" {
		if err := checks.WriteFileAtomic(f, write); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--out %s: %w", f, err)}
		}
	}
	if err := write(c.App.Writer); err != nil {
		return err
	}
	if c.Bool("fix") {
		if err := fixHost(c, t.Root, rep); err != nil {
			return err
		}
	}
	if failedIDs := rep.Failed(); len(failedIDs) > 0 {
		return failed("%d checks failed: %s. Fix them, or accept them with --ignore %s", len(failedIDs), strings.Join(failedIDs, ", "), strings.Join(failedIDs, ","))
	}
	return nil
}

func fixHost(c *cli.Context, root string, rep checks.Report) error {
	plan, err := checks.PlanFixes(root, rep)
	if err != nil {
		return err
	}
	w := c.App.ErrWriter
	if len(plan.Changes) == 0 {
		fmt.Fprintln(w, "fix: nothing to change")
	}
	for _, ch := range plan.Changes {
		fmt.Fprintln(w, "fix: "+ch)
	}
	if len(plan.Cannot) > 0 {
		fmt.Fprintf(w, "fix: no automatic fix for %s: see the remedies above\n", strings.Join(plan.Cannot, ", "))
	}
	if !c.Bool("yes") || len(plan.Changes) == 0 {
		if len(plan.Changes) > 0 {
			fmt.Fprintln(w, "fix: run again with --yes to apply and persist these")
		}
		return nil
	}
	if err := checks.ApplyFixes(root, plan); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("fix: %w", err)}
	}
	for f := range plan.Files {
		fmt.Fprintf(w, "fix: wrote %s\n", f)
	}
	return nil
}

// isTerminal reports whether w is a terminal (colour only there).
func isTerminal(w io.Writer) bool {
	if _, ok := w.(*bytes.Buffer); ok {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
