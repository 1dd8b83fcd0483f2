package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/lab"
)

func labFlags(withPorts bool) []cli.Flag {
	fs := []cli.Flag{&cli.StringFlag{Name: "dir", Usage: "lab `DIR`ectory", Value: lab.DefaultDir, EnvVars: []string{"XCKIT_LAB_DIR"}},
		&cli.StringFlag{Name: "parts", Usage: "only these parts: gauss, legacy, lb, legacy-app (default all)"}}
	if withPorts {
		fs = append(fs,
			&cli.IntFlag{Name: "gauss-port", Usage: "port of the openGauss stand-in (when the lab is created)", Value: lab.DefaultGaussPort},
			&cli.IntFlag{Name: "legacy-port", Usage: "port of the legacy MariaDB (when the lab is created)", Value: lab.DefaultLegacyPort},
			&cli.IntFlag{Name: "lb-port", Usage: "port of the nginx balancer (when the lab is created)", Value: lab.DefaultLBPort},
			&cli.IntFlag{Name: "gauss-standbys", Usage: "streaming standbys of gauss, `N` (PostgreSQL physical replicas, each behind a front on gauss port + 2n); the DSNs become cluster DSNs"},
		)
	}
	return fs
}

func labOptions(c *cli.Context) lab.Options {
	o := lab.Options{Dir: c.String("dir"), Log: logger(c), Parts: splitList(c.String("parts"))}
	if c.Command.Name == "up" {
		o.GaussPort, o.LegacyPort, o.LBPort = c.Int("gauss-port"), c.Int("legacy-port"), c.Int("lb-port")
		o.GaussStandbys = c.Int("gauss-standbys")
	}
	return o
}

func labCommand() *cli.Command {
	return &cli.Command{
		Name:      "lab",
		Usage:     "the local world: openGauss stand-in, legacy MariaDB, nginx balancer",
		UsageText: "xckit lab up|down|status|env [--dir DIR]\n\nExample:\n   xckit lab up && xckit lab status -o json",
		Subcommands: []*cli.Command{
			{
				Name:      "up",
				Usage:     "create and start the lab (idempotent); waits until every part answers",
				UsageText: "xckit lab up [--dir DIR] [--gauss-port N] [--legacy-port N] [--lb-port N] [--gauss-standbys N]\n\nExample:\n   xckit lab up && xckit lab status\n   xckit lab up --gauss-standbys 1   # a primary and a streaming standby",
				Flags:     labFlags(true),
				Action: func(c *cli.Context) error {
					st, err := lab.Up(c.Context, labOptions(c))
					if err != nil {
						if len(st.Parts) > 0 {
							printStatus(c, st)
						}
						return &exitError{code: exitUsage, err: err}
					}
					return printStatus(c, st)
				},
			},
			{
				Name:      "down",
				Usage:     "stop every lab process by pid; --purge also removes the directory",
				UsageText: "xckit lab down [--dir DIR] [--purge]\n\nExample:\n   xckit lab down --purge",
				Flags:     append(labFlags(false), &cli.BoolFlag{Name: "purge", Usage: "remove the lab directory and its data"}),
				Action: func(c *cli.Context) error {
					if err := lab.Down(c.Context, labOptions(c), c.Bool("purge")); err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					fmt.Fprintln(c.App.ErrWriter, "lab stopped")
					return nil
				},
			},
			{
				Name:      "status",
				Usage:     "show each part with pid, port and health (exit 1 when a part is unhealthy)",
				UsageText: "xckit lab status [--dir DIR] [-o json]\n\nExample:\n   xckit lab status -o json",
				Flags:     labFlags(false),
				Action: func(c *cli.Context) error {
					st, err := lab.StatusOf(c.Context, labOptions(c))
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					if err := printStatus(c, st); err != nil {
						return err
					}
					if len(st.Parts) == 0 {
						return failed("no lab in %s: run xckit lab up", st.Dir)
					}
					if !st.Healthy() {
						return failed("the lab is not healthy")
					}
					return nil
				},
			},
			{
				Name:   "gauss-front",
				Usage:  "serve the lab's openGauss front (lab up starts it; see docs/opengauss.md)",
				Hidden: true,
				Flags:  append(labFlags(false), &cli.IntFlag{Name: "node", Usage: "0: the primary; n: standby n"}),
				Action: func(c *cli.Context) error {
					return lab.RunFront(c.Context, c.String("dir"), c.Int("node"), logger(c))
				},
			},
			{
				Name:      "env",
				Usage:     "print the lab's DSNs and URLs (shell exports, or -o json)",
				UsageText: "xckit lab env [--dir DIR] [-o json]\n\nExample:\n   eval \"$(xckit lab env)\" && psql \"$XCKIT_GAUSS_DSN\"",
				Flags:     labFlags(false),
				Action: func(c *cli.Context) error {
					env, err := lab.EnvOf(labOptions(c))
					if err != nil {
						return &exitError{code: exitUsage, err: err}
					}
					return emit(c, env, func(w io.Writer) error {
						for _, kv := range [][2]string{
							{"XCKIT_GAUSS_DSN", env.GaussDSN}, {"XCKIT_GAUSS_ADMIN_DSN", env.GaussAdminDSN},
							{"XCKIT_GAUSS_CDC_DSN", env.GaussCDCDSN}, {"XCKIT_GAUSS_POSTGRES_DSN", env.GaussPostgresDSN},
							{"XCKIT_LEGACY_DSN", env.LegacyDSN}, {"XCKIT_LEGACY_ADMIN_DSN", env.LegacyAdminDSN},
							{"XCKIT_LB_URL", env.LBURL}, {"XCKIT_LEGACY_URL", env.LegacyURL},
							{"XCKIT_MERCHANT_ID", env.MerchantID}, {"XCKIT_MERCHANT_KEY", env.MerchantKey},
						} {
							fmt.Fprintf(w, "export %s='%s'\n", kv[0], kv[1])
						}
						return nil
					})
				},
			},
		},
	}
}

func printStatus(c *cli.Context, st lab.Status) error {
	return emit(c, st, func(w io.Writer) error {
		fmt.Fprintf(w, "lab %s\n", st.Dir)
		var rows [][]any
		for _, p := range st.Parts {
			health := "unhealthy"
			if p.Healthy {
				health = "healthy"
			}
			pid := "-"
			if p.PID > 0 {
				pid = fmt.Sprint(p.PID)
			}
			rows = append(rows, []any{p.Name, pid, p.Port, health, p.Detail})
		}
		return table(w, []any{"PART", "PID", "PORT", "HEALTH", "DETAIL"}, rows)
	})
}
