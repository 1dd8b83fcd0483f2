package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/xckit/xckit/profiles"
)

func profileCommand() *cli.Command {
	return &cli.Command{
		Name:      "profile",
		Usage:     "list, show and validate site profiles",
		UsageText: "xckit profile list|show|validate ...\n\nExample:\n   xckit profile show kunpeng920-euleros2 -o json",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the embedded profiles",
				UsageText: "xckit profile list [-o json]\n\nExample:\n   xckit profile list",
				Action:    profileList,
			},
			{
				Name:      "show",
				Usage:     "print a profile resolved (after extends)",
				UsageText: "xckit profile show [NAME|FILE] [-o json]   (default: --profile)\n\nExample:\n   xckit profile show kunpeng920-kylinv10",
				Action:    profileShow,
			},
			{
				Name:      "validate",
				Usage:     "check profile files; every problem is named by file, line and field",
				UsageText: "xckit profile validate FILE... [-o json]\n\nExample:\n   xckit profile validate site.yaml",
				Action:    profileValidate,
			},
		},
	}
}

func profileList(c *cli.Context) error {
	type row struct {
		Name        string `json:"name"`
		Extends     string `json:"extends,omitempty"`
		Description string `json:"description"`
	}
	var rows []row
	for _, n := range profiles.Names() {
		p, err := profiles.Load(n)
		if err != nil {
			return err
		}
		rows = append(rows, row{p.Name, p.Extends, p.Description})
	}
	return emit(c, rows, func(w io.Writer) error {
		var cells [][]any
		for _, r := range rows {
			cells = append(cells, []any{r.Name, r.Extends, r.Description})
		}
		return table(w, []any{"NAME", "EXTENDS", "DESCRIPTION"}, cells)
	})
}

func profileShow(c *cli.Context) error {
	ref := c.String("profile") // --profile, default lab
	switch {
	case c.NArg() == 1:
		ref = c.Args().First()
	case c.NArg() > 1:
		return usage("profile show takes one profile NAME or FILE (xckit profile list shows the names)")
	}
	p, err := profiles.Load(ref)
	if err != nil {
		return profileError(err)
	}
	return emit(c, p, func(w io.Writer) error {
		b, err := profiles.Render(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

func profileValidate(c *cli.Context) error {
	if c.NArg() == 0 {
		return usage("profile validate needs at least one FILE")
	}
	type result struct {
		File   string                `json:"file"`
		Valid  bool                  `json:"valid"`
		Errors []profiles.FieldError `json:"errors,omitempty"`
	}
	var results []result
	bad := 0
	for _, f := range c.Args().Slice() {
		r := result{File: f, Valid: true}
		if _, err := profiles.LoadFile(f); err != nil {
			r.Valid = false
			bad++
			var errs profiles.Errors
			if errors.As(err, &errs) {
				r.Errors = errs
			} else {
				r.Errors = []profiles.FieldError{{File: f, Msg: err.Error()}}
			}
		}
		results = append(results, r)
	}
	if err := emit(c, results, func(w io.Writer) error {
		for _, r := range results {
			if r.Valid {
				fmt.Fprintf(w, "%s: valid\n", r.File)
				continue
			}
			for _, e := range r.Errors {
				fmt.Fprintln(w, e.Error())
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if bad > 0 {
		return usage("%d of %d profile files are invalid", bad, len(results))
	}
	return nil
}

// profileError turns a profile problem into a usage error (exit 2).
func profileError(err error) error {
	return &exitError{code: exitUsage, err: err}
}
