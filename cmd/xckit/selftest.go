package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/selftest"
)

func selftestCommand() *cli.Command {
	return &cli.Command{
		Name:  "selftest",
		Usage: "prove on a real openGauss every assumption xckit makes about it, then leave nothing behind",
		UsageText: "xckit selftest --db DSN --admin-db DSN [--cdc-db DSN] [--timeout D] [-o text|json]\n\n" +
			"Logs in with each DSN and names the method, reads version and compatibility mode, creates a\n" +
			"scratch table as the platform's role, decodes rows of every type through a scratch slot with\n" +
			"xckit's own reader, fences a scratch role holding a session, checks the xlog functions and\n" +
			"the upsert form, then drops what it made and lists to prove it.\n" +
			"Exit code: 0 all proven, 1 a difference, 2 could not run.\n\nExample:\n" +
			"   xckit selftest --db opengauss://pay:pw@10.0.0.5:5432/payd --admin-db opengauss://xcadmin:pw@10.0.0.5:5432/postgres \\\n" +
			"     --cdc-db opengauss://xckit_cdc:pw@10.0.0.5:5432/payd",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "the platform's openGauss `DSN` (its role, its database)", EnvVars: []string{"XCKIT_DB"}},
			&cli.StringFlag{Name: "admin-db", Usage: "an administrator's `DSN` (not the initial user)", EnvVars: []string{"XCKIT_ADMIN_DB"}},
			&cli.StringFlag{Name: "cdc-db", Usage: "the CDC user's `DSN` on the platform's database (default: the administrator)"},
			&cli.DurationFlag{Name: "timeout", Usage: "deadline of each check", Value: selftestTimeout},
		},
		Action: func(c *cli.Context) error {
			if c.String("db") == "" || c.String("admin-db") == "" {
				return usage("selftest needs --db (the platform's DSN) and --admin-db (an administrator's)")
			}
			rep, err := selftest.Run(c.Context, selftest.Options{DB: c.String("db"), AdminDB: c.String("admin-db"), CDCDB: c.String("cdc-db"), Timeout: c.Duration("timeout")})
			if err != nil && len(rep.Checks) == 0 {
				return usage("%v", err)
			}
			if perr := emit(c, rep, func(w io.Writer) error { return printSelftest(w, rep) }); perr != nil {
				return perr
			}
			if err != nil {
				return err
			}
			if !rep.OK {
				return failed("selftest found differences: see the failed checks above")
			}
			return nil
		},
	}
}

const selftestTimeout = 30 * time.Second

func printSelftest(w io.Writer, rep selftest.Report) error {
	fmt.Fprintf(w, "selftest of %s at %s\n", orUnknown(rep.Server), rep.Target)
	var rows [][]any
	for _, c := range rep.Checks {
		res := "pass"
		if !c.OK {
			res = "FAIL"
		}
		rows = append(rows, []any{res, c.Name, c.Detail})
	}
	if err := table(w, []any{"RESULT", "CHECK", "DETAIL"}, rows); err != nil {
		return err
	}
	if rep.OK {
		_, err := fmt.Fprintln(w, "selftest passed: every assumption holds, nothing left behind")
		return err
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unidentified server"
	}
	return s
}
