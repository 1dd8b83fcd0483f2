package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"regexp"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/xckit/xckit/bench"
)

// chart draws one series over the run as inline SVG.
func chart(title, ylabel string, secs []bench.Second, value func(bench.Second) float64, limit float64) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = ylabel
	if len(secs) > 1 {
		secs = secs[:len(secs)-1] // the last second is cut short by the end of the run
	}
	pts := make(plotter.XYs, 0, len(secs))
	for _, s := range secs {
		pts = append(pts, plotter.XY{X: float64(s.T), Y: value(s)})
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return "", err
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(line)
	if limit > 0 && len(secs) > 0 {
		l, _ := plotter.NewLine(plotter.XYs{{X: float64(secs[0].T), Y: limit}, {X: float64(secs[len(secs)-1].T), Y: limit}})
		l.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	c := vgsvg.New(6*vg.Inch, 2.6*vg.Inch)
	p.Draw(drawCanvas(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	svg := b.String()
	if i := strings.Index(svg, "<svg"); i > 0 { // drop the XML prolog: inline in HTML
		svg = svg[i:]
	}
	// HTML5 knows inline SVG without namespace declarations: the file names no URL.
	svg = xmlns.ReplaceAllString(svg, "")
	return template.HTML(svg), nil
}

var xmlns = regexp.MustCompile(`\s+xmlns(:\w+)?="[^"]*"`)

// noScheme shows addresses without their scheme: the report is offline and names no URL.
func noScheme(s string) string {
	return strings.NewReplacer("http://", "", "https://", "").Replace(s)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"f2":   func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"join": strings.Join,
	"host": noScheme,
	"val":  func(v any) string { return noScheme(fmt.Sprint(v)) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xckit acceptance — {{.R.Profile}}</title>
<style>
body{font:14px/1.4 sans-serif;margin:2em;color:#222}
.verdict{font-size:2em;font-weight:bold;padding:.4em .8em;display:inline-block;border-radius:6px}
.pass{background:#d4f4dd;color:#14532d}.fail{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.case{margin-top:2em}.reasons{color:#7f1d1d}
</style></head><body>
<div id="verdict" class="verdict {{if .R.Pass}}pass{{else}}fail{{end}}">{{if .R.Pass}}PASS{{else}}FAIL{{end}}</div>
<h1>Acceptance against profile {{.R.Profile}}</h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} – {{.R.Finished.Format "15:04:05"}}, target {{host .R.Target}}, xckit {{.R.XckitVer}}</p>
<table id="cases"><tr><th>case</th><th>target TPS</th><th>achieved</th><th>success %</th><th>platform avg ms</th><th>platform p99 ms</th><th>latency avg ms</th><th>latency p99 ms</th><th>verdict</th></tr>
{{range .R.Cases}}<tr><td>{{.Case.Name}}</td><td>{{.Case.TPS}}</td><td>{{f1 .Summary.Achieved}}</td><td>{{printf "%.3f" .Summary.Success}}</td><td>{{f2 .Summary.Platform.Avg}}</td><td>{{f2 .Summary.Platform.P99}}</td><td>{{f2 .Summary.Latency.Avg}}</td><td>{{f2 .Summary.Latency.P99}}</td><td>{{if .Verdict.Pass}}pass{{else}}<span class="reasons">fail: {{join .Verdict.Reasons "; "}}</span>{{end}}</td></tr>
{{end}}</table>
<h2>Environment</h2>
<table><tr><th>host</th><td>{{.R.Host.Hostname}}</td></tr><tr><th>CPU</th><td>{{.R.Host.CPU}} ({{.R.Host.Arch}}, {{.R.Host.Cores}} cores)</td></tr>
<tr><th>memory</th><td>{{.R.Host.MemoryGB}} GiB</td></tr><tr><th>OS</th><td>{{.R.Host.OS}}, kernel {{.R.Host.Kernel}}</td></tr>
<tr><th>system under test</th><td>{{range $k, $v := .R.System}}{{$k}}: {{val $v}}; {{end}}</td></tr><tr><th>command</th><td>{{host .R.Command}}</td></tr></table>
{{range $i, $c := .Charts}}<div class="case"><h2>{{$c.Name}}</h2>{{$c.TPS}}{{$c.P99}}</div>{{end}}
</body></html>
`))

type caseCharts struct {
	Name     string
	TPS, P99 template.HTML
}

// HTML renders the single-file offline report: verdict first, a table, then per case
// the successful operations per second and the p99 latency per second (limits dashed).
func HTML(r Results) ([]byte, error) {
	var charts []caseCharts
	for _, c := range r.Cases {
		if c.Summary == nil {
			continue
		}
		tps, err := chart(c.Case.Name+": successful payments per second", "TPS", c.Summary.Seconds, func(s bench.Second) float64 { return float64(s.OK) }, float64(c.Case.TPS))
		if err != nil {
			return nil, err
		}
		p99, err := chart(c.Case.Name+": p99 latency per second", "ms", c.Summary.Seconds, func(s bench.Second) float64 { return s.P99 }, 0)
		if err != nil {
			return nil, err
		}
		charts = append(charts, caseCharts{Name: c.Case.Name, TPS: tps, P99: p99})
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"R": r, "Charts": charts})
	return b.Bytes(), err
}
