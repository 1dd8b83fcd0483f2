package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/internal/buildinfo"
	"github.com/xckit/xckit/packaging"
	"github.com/xckit/xckit/profiles"
)

func installFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "the application's openGauss `DSN` (user, password, database)", EnvVars: []string{"XCKIT_DB"}},
		&cli.StringFlag{Name: "admin-db", Usage: "an administrator's `DSN`, for db-bootstrap only (never stored)", EnvVars: []string{"XCKIT_ADMIN_DB"}},
		&cli.StringFlag{Name: "prefix", Value: "/opt/xckit", Usage: "install under `DIR`"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "payd's `ADDR`"},
		&cli.StringFlag{Name: "secrets-file", Usage: "YAML `FILE` (mode 0600) with merchants: [{id, key}] and cdc_password"},
		&cli.StringFlag{Name: "payd", Usage: "payd binary to deploy (default: beside xckit)"},
		&cli.StringFlag{Name: "host-root", Value: "/", Usage: "host root for preflight and os-tune"},
	}
}

func installOptions(c *cli.Context) (installer.Options, error) {
	if c.String("db") == "" {
		return installer.Options{}, usage("--db DSN is needed: the application's user, password and database on openGauss")
	}
	return prefixOptions(c)
}

// prefixOptions are the install options without requiring --db (uninstall finds the
// DSN in the installed configuration when it needs one).
func prefixOptions(c *cli.Context) (installer.Options, error) {
	p, err := profiles.Load(c.String("profile"))
	if err != nil {
		return installer.Options{}, profileError(err)
	}
	payd := c.String("payd")
	if payd == "" {
		if exe, err := os.Executable(); err == nil {
			payd = filepath.Join(filepath.Dir(exe), "payd")
		}
	}
	o := installer.Options{Profile: p, DB: c.String("db"), AdminDB: c.String("admin-db"), Prefix: c.String("prefix"),
		Listen: c.String("listen"), SecretsFile: c.String("secrets-file"), PaydBin: payd, Version: buildinfo.Version,
		HostRoot: c.String("host-root"), Out: progressWriter(c), Log: logger(c)}
	if abs, err := filepath.Abs(o.Prefix); err == nil {
		o.Prefix = abs
	}
	return o, nil
}

func installCommand() *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "install payd onto openGauss in phases: plan, apply, resume",
		UsageText: "xckit install --profile P --db DSN --admin-db DSN [--prefix /opt/xckit] [--listen ADDR] [--secrets-file F]\n" +
			"   [--plan] [--resume] [--skip-phases a,b] [--ignore ID,...] [--os-tune]\n\n" +
			"Phases: " + strings.Join(installer.PhaseNames(), ", ") + "\n\nExample:\n" +
			"   xckit install --profile kunpeng920-kylinv10 --db opengauss://pay:pw@10.0.0.5:5432/payd --admin-db opengauss://gaussdb:pw@10.0.0.5:5432/postgres --plan",
		Flags: append(installFlags(),
			&cli.BoolFlag{Name: "plan", Usage: "say what each phase would do; touch nothing"},
			&cli.BoolFlag{Name: "resume", Usage: "continue an install that stopped (dirty journal)"},
			&cli.StringFlag{Name: "skip-phases", Usage: "comma-separated phases to skip"},
			&cli.StringFlag{Name: "ignore", Usage: "check IDs whose failure preflight accepts"},
			&cli.BoolFlag{Name: "os-tune", Usage: "run the os-tune phase (apply sysctl, limits, THP fixes on this host)"}),
		Action: func(c *cli.Context) error {
			o, err := installOptions(c)
			if err != nil {
				return err
			}
			o.Plan, o.Resume, o.OSTune = c.Bool("plan"), c.Bool("resume"), c.Bool("os-tune")
			o.SkipPhases, o.Ignore = splitList(c.String("skip-phases")), splitList(c.String("ignore"))
			rep, err := installer.Install(c.Context, o)
			if err != nil {
				var dirty *installer.DirtyError
				if errors.As(err, &dirty) {
					return usage("%v", err)
				}
				return failed("%w", err)
			}
			if c.String("output") == "json" {
				return emit(c, rep, nil)
			}
			return nil
		},
		Subcommands: []*cli.Command{
			{
				Name:      "unit",
				Usage:     "print the hardened systemd unit install writes (the packages ship it as a reference)",
				UsageText: "xckit install unit [--prefix DIR] [--user NAME]\n\nExample:\n   xckit install unit --prefix /opt/xckit --user payd > payd.service",
				Flags: []cli.Flag{&cli.StringFlag{Name: "prefix", Value: "/opt/xckit", Usage: "install `DIR`"},
					&cli.StringFlag{Name: "user", Value: "payd", Usage: "the service user"}},
				Action: func(c *cli.Context) error {
					_, err := io.WriteString(c.App.Writer, installer.RenderUnit(c.String("prefix"), c.String("user")))
					return err
				},
			},
			{
				Name:      "phase",
				Usage:     "run one phase alone",
				UsageText: "xckit install phase NAME [install flags] [--plan]\n\nExample:\n   xckit install phase db-bootstrap --db $DB --admin-db $ADMIN --plan",
				Flags:     append(installFlags(), &cli.BoolFlag{Name: "plan", Usage: "say what it would do"}),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usage("install phase needs one phase NAME: %s", strings.Join(installer.PhaseNames(), ", "))
					}
					o, err := installOptions(c)
					if err != nil {
						return err
					}
					o.Plan = c.Bool("plan")
					res, err := installer.RunPhase(c.Context, o, c.Args().First())
					if err != nil {
						return failed("phase %s: %w", c.Args().First(), err)
					}
					return emit(c, res, func(w io.Writer) error {
						for _, l := range append(res.Plan, res.Notes...) {
							fmt.Fprintln(w, l)
						}
						_, err := fmt.Fprintf(w, "%s: %s, %d changes\n", res.Name, res.Status, res.Changes)
						return err
					})
				},
			},
			{
				Name:      "rollback-app",
				Usage:     "flip payd back to the version before the last upgrade and restart it",
				UsageText: "xckit install rollback-app --db DSN [--prefix DIR] [--listen ADDR]\n\nExample:\n   xckit install rollback-app --prefix /opt/xckit --db $DB",
				Flags:     installFlags(),
				Action: func(c *cli.Context) error {
					o, err := installOptions(c)
					if err != nil {
						return err
					}
					v, err := installer.RollbackApp(c.Context, o)
					if err != nil {
						return failed("rollback-app: %w", err)
					}
					return emit(c, map[string]string{"current": v}, func(w io.Writer) error {
						_, err := fmt.Fprintf(w, "payd %s is current again and ready\n", v)
						return err
					})
				},
			},
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "stop payd and remove what install put under the prefix; the database stays unless --drop-data --yes",
		UsageText: "xckit uninstall [--prefix DIR] [--drop-data --yes --admin-db DSN [--db DSN]]\n\n--db is read from the installed configuration when --drop-data needs it.\n\nExample:\n   xckit uninstall --prefix /opt/xckit",
		Flags: append(installFlags(), &cli.BoolFlag{Name: "drop-data", Usage: "also drop the application's database and roles"},
			&cli.BoolFlag{Name: "yes", Usage: "confirm --drop-data"}),
		Action: func(c *cli.Context) error {
			if c.Bool("drop-data") && !c.Bool("yes") {
				return usage("--drop-data destroys the platform's database: add --yes to confirm")
			}
			o, err := prefixOptions(c)
			if err != nil {
				return err
			}
			did, err := installer.Uninstall(c.Context, o, c.Bool("drop-data"))
			if eerr := emit(c, map[string]any{"done": did}, func(w io.Writer) error {
				for _, d := range did {
					fmt.Fprintln(w, d)
				}
				return nil
			}); eerr != nil {
				return eerr
			}
			if err != nil {
				return failed("uninstall: %w", err)
			}
			return nil
		},
	}
}

func upgradeCommand() *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "deploy payd from a bundle beside the current version, switch to it and restart",
		UsageText: "xckit upgrade --bundle DIR --db DSN [--prefix DIR] [--listen ADDR]\n\nExample:\n   xckit upgrade --bundle ./xckit-1.1.0-linux-arm64 --db $DB",
		Flags:     append(installFlags(), &cli.StringFlag{Name: "bundle", Required: true, Usage: "unpacked bundle `DIR`"}),
		Action: func(c *cli.Context) error {
			res, err := packaging.Verify(c.String("bundle"))
			if err != nil {
				return usage("--bundle: %v", err)
			}
			if !res.OK() {
				return failed("the bundle is not intact: %s", strings.Join(res.Problems, "; "))
			}
			o, err := installOptions(c)
			if err != nil {
				return err
			}
			o.PaydBin, o.Version = filepath.Join(c.String("bundle"), "bin", "payd"), res.Manifest.Version
			prev, err := installer.Upgrade(c.Context, o)
			if err != nil {
				return failed("upgrade: %w", err)
			}
			return emit(c, map[string]string{"current": o.Version, "previous": prev}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "payd %s is current and ready (was %s; xckit install rollback-app goes back)\n", o.Version, prev)
				return err
			})
		},
	}
}
