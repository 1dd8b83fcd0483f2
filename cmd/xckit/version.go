package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/internal/buildinfo"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print version, commit, build date, Go version and platform",
		UsageText: "xckit version [-o json]\n\nExample:\n   xckit version -o json",
		Action: func(c *cli.Context) error {
			i := buildinfo.Get("xckit")
			return emit(c, i, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "xckit %s (commit %s, built %s, %s, %s/%s)\n", i.Version, i.Commit, i.Date, i.GoVersion, i.OS, i.Arch)
				return err
			})
		},
	}
}
