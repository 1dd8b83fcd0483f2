package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/internal/dbx"
)

// normalizeArgs lets operators type flags last. urfave/cli reads an app's flags only
// before the command and a command's flags only before its first positional argument;
// this moves global flags (wherever typed) to the front and the leaf command's own
// flags before its positional arguments. "--" ends flag handling.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	globalTakesValue := map[string]bool{}
	for _, f := range app.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			globalTakesValue[dash(n)] = !isBool
		}
	}
	var globals, rest []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasEq := strings.Cut(a, "=")
		takes, isGlobal := globalTakesValue[name]
		switch {
		case !isGlobal:
			rest = append(rest, a)
		case takes && !hasEq && i+1 < len(args):
			globals = append(globals, a, args[i+1])
			i++
		default:
			globals = append(globals, a)
		}
	}
	// Walk down the command path.
	cmds := app.Commands
	var leaf *cli.Command
	i := 0
	for i < len(rest) && !strings.HasPrefix(rest[i], "-") {
		c := findCommand(cmds, rest[i])
		if c == nil {
			break
		}
		leaf, cmds = c, c.Subcommands
		i++
	}
	out := append([]string{args[0]}, globals...)
	out = append(out, rest[:i]...)
	if leaf == nil {
		return append(out, rest[i:]...)
	}
	var flags, positional []string
	tail := rest[i:]
	for j := 0; j < len(tail); j++ {
		a := tail[j]
		if a == "--" {
			positional = append(positional, tail[j:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasEq := strings.Cut(a, "=")
		if f := findFlag(leaf.Flags, name); f != nil && !hasEq && j+1 < len(tail) {
			if _, isBool := f.(*cli.BoolFlag); !isBool {
				flags = append(flags, tail[j+1])
				j++
			}
		}
	}
	out = append(out, flags...)
	return append(out, positional...)
}

func dash(n string) string {
	if len(n) == 1 {
		return "-" + n
	}
	return "--" + n
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// secretFlags carry a secret as their value; commandLine never shows it.
var secretFlags = map[string]bool{"--key": true, "-key": true}

// commandLine renders args for a report: values of secret flags become xxxxx and
// DSN passwords are redacted, so a report can be kept and shared.
func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case secretFlags[name] && hasValue:
			out[i] = name + "=xxxxx"
		case i > 0 && secretFlags[args[i-1]]:
			out[i] = "xxxxx"
		default:
			out[i] = dbx.Redact(a)
		}
	}
	return strings.Join(out, " ")
}
