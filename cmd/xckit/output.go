package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// emit writes a result as JSON (-o json) or through the text renderer.
func emit(c *cli.Context, v any, text func(w io.Writer) error) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // DSNs and URLs keep their & < >
		return enc.Encode(v)
	}
	return text(c.App.Writer)
}

// table writes aligned columns.
func table(w io.Writer, header []any, rows [][]any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(cells []any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	return tw.Flush()
}

// progressWriter is where a command's step lines go: stdout in text mode, where they
// are the result; stderr with -o json, so stdout carries the one JSON document.
func progressWriter(c *cli.Context) io.Writer {
	if c.String("output") == "json" {
		return c.App.ErrWriter
	}
	return c.App.Writer
}
