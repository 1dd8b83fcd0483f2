package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/packaging"
)

func bundleCommand() *cli.Command {
	return &cli.Command{
		Name:      "bundle",
		Usage:     "the offline bundle",
		UsageText: "xckit bundle verify DIR\n\nExample:\n   tar xzf xckit-1.0.0-linux-arm64.tar.gz && xckit-1.0.0-linux-arm64/bin/xckit bundle verify xckit-1.0.0-linux-arm64",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "check the bundle's SHA256SUMS and that its binaries are static builds for its architecture",
			UsageText: "xckit bundle verify DIR [-o json]\n\nExample:\n   xckit bundle verify ./xckit-1.0.0-linux-arm64",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usage("bundle verify needs the unpacked bundle's DIR")
				}
				res, err := packaging.Verify(c.Args().First())
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if err := emit(c, res, func(w io.Writer) error {
					fmt.Fprintf(w, "bundle %s: xckit %s for linux/%s, %d files checked\n", res.Dir, res.Manifest.Version, res.Manifest.Arch, res.Files)
					for _, p := range res.Problems {
						fmt.Fprintln(w, "PROBLEM: "+p)
					}
					return nil
				}); err != nil {
					return err
				}
				if !res.OK() {
					return failed("the bundle is not intact: do not install it; bring a fresh copy")
				}
				return nil
			},
		}},
	}
}
