package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/internal/dbx"
)

// Exit codes: 0 ok, 1 the operation found a failure, 2 usage or could not run.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// exitError carries an exit code out of an action.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// failed is the result "ran, and found a failure" (exit 1).
func failed(format string, args ...any) error {
	return &exitError{code: exitFailure, err: fmt.Errorf(format, args...)}
}

// usage is the result "wrong input" (exit 2).
func usage(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// globalFlags are accepted before and after the subcommand (see normalizeArgs).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "profile", Usage: "profile `NAME` (embedded) or FILE", Value: "lab", EnvVars: []string{"XCKIT_PROFILE"}},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "result format: text or json", Value: "text"},
		&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (logs go to stderr)", Value: "info"},
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "xckit",
		Usage: "move a payment platform onto Kunpeng / Kylin / openGauss, and back, safely",
		Description: `xckit checks hosts and databases, installs the payment platform onto openGauss,
keeps the legacy database in step by CDC, proves the acceptance figures, and cuts
over or rolls back in one command. Global flags may come before or after the command.

Example:
   xckit lab up && xckit lab status -o json`,
		Flags:                globalFlags(),
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		Before: func(c *cli.Context) error {
			if o := c.String("output"); o != "text" && o != "json" && o != "junit" {
				return usage("--output %q: use text or json (junit for check)", o)
			}
			_, err := parseLevel(c.String("log-level"))
			return err
		},
		Commands: []*cli.Command{versionCommand(), profileCommand(), labCommand(), benchCommand(), cdcCommand(), verifyCommand(), checkCommand(), bundleCommand(), installCommand(), uninstallCommand(), upgradeCommand(), cutoverCommand(), rollbackCommand(), reportCommand(), selftestCommand()},
	}
	setUsageErrors(app.Commands)
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usage("%v (see xckit --help)", err) }
	return app
}

func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		name := c.Name
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return usage("%s: %v (see xckit %s --help)", name, err, name)
		}
		setUsageErrors(c.Subcommands)
	}
}

// run is main without os.Exit, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	code := runApp(ctx, args, out, stderr)
	// -o json promises one JSON document on stdout, also when the command failed
	// before it had a result: then the document is the error.
	if code != exitOK && out.n == 0 && jsonRequested(args) {
		json.NewEncoder(stdout).Encode(map[string]any{"error": out.lastErr, "exit_code": code})
	}
	return code
}

// countingWriter counts what reached stdout and keeps the error runApp reports.
type countingWriter struct {
	w       io.Writer
	n       int
	lastErr string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// jsonRequested reads -o json / --output json from the raw arguments.
func jsonRequested(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o=json" || a == "--output=json":
			return true
		case (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

func runApp(ctx context.Context, args []string, stdout *countingWriter, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	notFound := false
	app.CommandNotFound = func(c *cli.Context, name string) {
		fmt.Fprintf(c.App.ErrWriter, "xckit: unknown command %q: see xckit --help\n", name)
		notFound = true
	}
	err := app.RunContext(ctx, normalizeArgs(app, args))
	if notFound {
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	msg := dbx.Redact(err.Error())
	stdout.lastErr = msg
	fmt.Fprintln(stderr, "xckit: "+strings.ReplaceAll(msg, "\n", "\n  "))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, usage("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// logger writes to stderr at the level of --log-level.
func logger(c *cli.Context) *slog.Logger {
	l, _ := parseLevel(c.String("log-level"))
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: l}))
}

func outputFormat(c *cli.Context) (string, error) {
	switch o := c.String("output"); o {
	case "text", "json":
		return o, nil
	case "junit":
		if c.Command != nil && (c.Command.Name == "check" || c.Command.Name == "merge") {
			return o, nil
		}
		return "", usage("--output junit is for xckit check; use text or json here")
	default:
		return "", usage("--output %q: use text or json (junit for check)", o)
	}
}
