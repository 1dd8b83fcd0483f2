package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/xckit/xckit/bench"
)

// series is one line of a chart.
type series struct {
	name string
	pts  plotter.XYs
}

var palette = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}, {140, 86, 75, 255},
	{227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}

// chart draws lines as inline SVG; limit > 0 adds a dashed red line at that height.
func chart(title, xlabel, ylabel string, lines []series, limit float64, ticks plot.Ticker) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Y.Tick.Marker = plainTicks{}
	p.X.Tick.Marker = plainTicks{}
	if ticks != nil {
		p.X.Tick.Marker = ticks
	}
	// The legend stands beside the plot, never over its lines.
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, false
	var names []string
	var minX, maxX float64 = math.Inf(1), math.Inf(-1)
	for i, s := range lines {
		if len(s.pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return "", fmt.Errorf("chart %q, %s: %w", title, s.name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.2)
		p.Add(l)
		if len(lines) > 1 {
			legend.Add(s.name, l)
			names = append(names, s.name)
		}
		minX, maxX = math.Min(minX, s.pts[0].X), math.Max(maxX, s.pts[len(s.pts)-1].X)
	}
	if limit > 0 && minX <= maxX {
		l, _ := plotter.NewLine(plotter.XYs{{X: minX, Y: limit}, {X: maxX, Y: limit}})
		l.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	p.Y.Min = 0 // a scale from zero: a 0.2% wobble must not look like a collapse
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
	w, h := 7*vg.Inch, 2.6*vg.Inch
	c := vgsvg.New(w, h)
	dc := drawCanvas(c)
	// Every chart keeps the same column on the right for its legend, so their axes line
	// up down the page; the margin also keeps the last x label whole.
	// (The browser's font runs wider than the metrics gonum measures with: a quarter more.)
	side := max(legendWidth(legend, names)*5/4+vg.Points(16), 1.9*vg.Inch)
	p.Draw(draw.Crop(dc, 0, -side, 0, 0))
	if len(names) > 0 {
		legend.YOffs = -vg.Points(18) // below the title
		legend.Left = true
		legend.Padding = vg.Points(2) // rows apart: a thumbnail never strikes the row above
		legend.Draw(draw.Crop(dc, w-side+vg.Points(12), 0, 0, 0))
	}
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

// legendWidth is the width the legend's longest entry needs.
func legendWidth(l plot.Legend, names []string) vg.Length {
	var max vg.Length
	for _, n := range names {
		if w := l.TextStyle.Width(n); w > max {
			max = w
		}
	}
	return max + l.ThumbnailWidth + l.Padding*2
}

// plainTicks are gonum's default ticks labelled without trailing zeros ("250", not
// "250.00").
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

var xmlns = regexp.MustCompile(`\s+xmlns(:\w+)?="[^"]*"`)

// perSecond turns the run's seconds into a series; the last second is cut short by
// the end of the run and left out.
func perSecond(secs []bench.Second, v func(bench.Second) float64) plotter.XYs {
	if len(secs) > 1 {
		secs = secs[:len(secs)-1]
	}
	pts := make(plotter.XYs, 0, len(secs))
	for _, s := range secs {
		pts = append(pts, plotter.XY{X: float64(s.T), Y: v(s)})
	}
	return pts
}

// nines maps a percentile to the x of a percentile-spectrum chart: 50% -> 0.3,
// 90% -> 1, 99% -> 2, 99.9% -> 3 (HdrHistogram's customary view of a tail).
func nines(q float64) float64 { return -math.Log10(1 - q/100) }

// spectrum is a latency distribution read from an encoded HDR histogram.
func spectrum(enc string) (plotter.XYs, error) {
	if enc == "" {
		return nil, nil
	}
	h, err := hdrhistogram.Decode([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	var pts plotter.XYs
	for i := 0; ; i++ {
		x := min(nines(50)+0.05*float64(i), nines(99.99)) // the last point is 99.99%: its tick is drawn
		q := 100 * (1 - math.Pow(10, -x))
		pts = append(pts, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(q)) / 1000})
		if x >= nines(99.99) {
			return pts, nil
		}
	}
}

var ninesTicks = plot.ConstantTicks([]plot.Tick{{Value: nines(50), Label: "50%"}, {Value: nines(90), Label: "90%"},
	{Value: nines(99), Label: "99%"}, {Value: nines(99.9), Label: "99.9%"}, {Value: nines(99.99), Label: "99.99%"}})

// noScheme shows addresses without their scheme: the report is offline and names no URL.
func noScheme(s string) string {
	return strings.NewReplacer("http://", "", "https://", "").Replace(s)
}

func bytesPerSec(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB/s", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B/s", v)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"f2":   func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"bps":  bytesPerSec,
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
.case{margin-top:2em}.reasons{color:#7f1d1d}.warn{background:#fff7d6;border-left:4px solid #d4a106;padding:.4em .8em;margin:.4em 0}
</style></head><body>
<div id="verdict" class="verdict {{if .R.Pass}}pass{{else}}fail{{end}}">{{if .R.Pass}}PASS{{else}}FAIL{{end}}</div>
<h1>Acceptance against profile {{.R.Profile}}</h1>
<p>{{.R.Started.Format "2006-01-02 15:04:05 MST"}} – {{.R.Finished.Format "15:04:05"}}, target {{host .R.Target}}, xckit {{.R.XckitVer}}{{if .R.Repeat}}, certification mode: every case {{.R.Repeat}} times{{end}}</p>
{{range .Warnings}}<div class="warn">{{.}}</div>
{{end}}<table id="cases"><tr><th>case</th>{{if .R.Repeat}}<th>run</th>{{end}}<th>target TPS</th><th>achieved</th><th>success %</th><th>platform avg ms</th><th>platform p99 ms</th><th>latency avg ms</th><th>latency p99 ms</th><th>platform CPU %</th><th>platform mem %</th><th>verdict</th></tr>
{{range .R.Cases}}<tr><td>{{.Case.Name}}</td>{{if $.R.Repeat}}<td>{{.Run}}</td>{{end}}<td>{{.Case.TPS}}</td><td>{{f1 .Summary.Achieved}}</td><td>{{printf "%.3f" .Summary.Success}}</td><td>{{f2 .Summary.Platform.Avg}}</td><td>{{f2 .Summary.Platform.P99}}</td><td>{{f2 .Summary.Latency.Avg}}</td><td>{{f2 .Summary.Latency.P99}}</td>{{with .Summary.Resources}}{{if .PlatformSampled}}<td>{{f2 .Avg.PlatformCPU}}</td><td>{{f2 .Avg.PlatformMem}}</td>{{else}}<td>–</td><td>–</td>{{end}}{{else}}<td>–</td><td>–</td>{{end}}<td>{{if .Verdict.Pass}}pass{{else}}<span class="reasons">fail: {{join .Verdict.Reasons "; "}}</span>{{end}}</td></tr>
{{end}}</table>
{{if .R.Spreads}}<h2>Variation between runs (limit 5%)</h2>
<table id="spreads"><tr><th>case</th><th>figure</th><th>runs</th><th>variation %</th><th>verdict</th></tr>
{{range .R.Spreads}}<tr><td>{{.Case}}</td><td>{{.Metric}}</td><td>{{range $i, $v := .Values}}{{if $i}}, {{end}}{{printf "%.4g" $v}}{{end}}</td><td>{{f2 .Variation}}</td><td>{{if not .Judged}}{{.Note}}{{else if .Pass}}pass{{else}}<span class="reasons">fail{{with .Note}}: {{.}}{{end}}</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<h2>Environment</h2>
<table><tr><th>host</th><td>{{.R.Host.Hostname}}</td></tr><tr><th>CPU</th><td>{{.R.Host.CPU}} ({{.R.Host.Arch}}, {{.R.Host.Cores}} cores)</td></tr>
<tr><th>memory</th><td>{{.R.Host.MemoryGB}} GiB</td></tr><tr><th>OS</th><td>{{.R.Host.OS}}, kernel {{.R.Host.Kernel}}</td></tr>
<tr><th>system under test</th><td>{{range $k, $v := .R.System}}{{$k}}: {{val $v}}; {{end}}</td></tr>
{{if .R.Database}}<tr><th>database</th><td>{{range $k, $v := .R.Database}}{{$k}}: {{$v}}; {{end}}</td></tr>{{end}}<tr><th>command</th><td>{{host .R.Command}}</td></tr></table>
{{range .Charts}}<div class="case"><h2>{{.Name}}</h2>
{{with .Res}}<table class="resources"><tr><th>steady state</th><th>host CPU %</th><th>host mem %</th><th>disk read</th><th>disk write</th><th>net in</th><th>net out</th><th>generator CPU %</th><th>platform CPU %</th><th>platform mem %</th><th>platform host CPU %</th><th>platform host mem %</th></tr>
<tr><td>average</td><td>{{f1 .Avg.HostCPU}}</td><td>{{f1 .Avg.HostMem}}</td><td>{{bps .Avg.DiskRead}}</td><td>{{bps .Avg.DiskWrite}}</td><td>{{bps .Avg.NetRecv}}</td><td>{{bps .Avg.NetSent}}</td><td>{{f1 .Avg.GeneratorCPU}}</td><td>{{f2 .Avg.PlatformCPU}}</td><td>{{f2 .Avg.PlatformMem}}</td><td>{{f1 .Avg.PlatformHostCPU}}</td><td>{{f1 .Avg.PlatformHostMem}}</td></tr>
<tr><td>peak</td><td>{{f1 .Peak.HostCPU}}</td><td>{{f1 .Peak.HostMem}}</td><td>{{bps .Peak.DiskRead}}</td><td>{{bps .Peak.DiskWrite}}</td><td>{{bps .Peak.NetRecv}}</td><td>{{bps .Peak.NetSent}}</td><td>{{f1 .Peak.GeneratorCPU}}</td><td>{{f2 .Peak.PlatformCPU}}</td><td>{{f2 .Peak.PlatformMem}}</td><td>{{f1 .Peak.PlatformHostCPU}}</td><td>{{f1 .Peak.PlatformHostMem}}</td></tr></table>
{{if .PlatformError}}<div class="warn">platform figures: {{.PlatformError}}</div>{{end}}
{{if .Processes}}<table class="processes"><tr><th>process on the generator host</th><th>role</th><th>processes</th><th>CPU % of host</th></tr>
{{range .Processes}}<tr><td>{{.Name}}</td><td>{{.Role}}</td><td>{{.Procs}}</td><td>{{f2 .CPU}}</td></tr>
{{end}}<tr><td>all other processes</td><td>other</td><td></td><td>{{f2 .OtherCPU}}</td></tr></table>{{end}}
{{if .Generators}}<table class="generators"><tr><th>generator host</th><th>host CPU %</th><th>generator CPU %</th><th>other processes CPU %</th><th>busiest others</th></tr>
{{range .Generators}}<tr><td>{{.Host}}</td><td>{{f1 .HostCPU}}</td><td>{{f1 .GeneratorCPU}}</td><td>{{f2 .OtherCPU}}</td><td>{{range $i, $p := .Others}}{{if $i}}, {{end}}{{$p.Name}} {{f1 $p.CPU}}%{{end}}</td></tr>
{{end}}</table>{{end}}{{end}}
{{range .SVGs}}{{.}}{{end}}</div>
{{end}}</body></html>
`))

type caseCharts struct {
	Name string
	Res  *bench.Resources
	SVGs []template.HTML
}

// HTML renders the single-file offline report: the verdict first, warnings, the case
// table, the variation between repeated runs, the environment, then per case its
// resources and charts: successful operations per second (target dashed), latency
// percentiles per second, the latency distribution, and CPU and memory over time.
func HTML(r Results) ([]byte, error) {
	var charts []caseCharts
	var warnings []string
	for _, c := range r.Cases {
		name := c.Case.Name
		if c.Run > 0 {
			name = fmt.Sprintf("%s, run %d", name, c.Run)
		}
		for _, w := range c.Verdict.Warnings {
			warnings = append(warnings, name+": "+w)
		}
		if c.Summary == nil {
			continue
		}
		cc, err := caseSVGs(name, c)
		if err != nil {
			return nil, err
		}
		charts = append(charts, cc)
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"R": r, "Charts": charts, "Warnings": warnings})
	return b.Bytes(), err
}

func caseSVGs(name string, c Case) (caseCharts, error) {
	s := c.Summary
	cc := caseCharts{Name: name, Res: s.Resources}
	add := func(svg template.HTML, err error) error {
		cc.SVGs = append(cc.SVGs, svg)
		return err
	}
	if err := add(chart(name+": successful operations per second", "seconds", "TPS",
		[]series{{"ok", perSecond(s.Seconds, func(x bench.Second) float64 { return float64(x.OK) })}}, float64(c.Case.TPS), nil)); err != nil {
		return cc, err
	}
	if err := add(chart(name+": latency per second", "seconds", "ms", []series{
		{"p50", perSecond(s.Seconds, func(x bench.Second) float64 { return x.P50 })},
		{"p99", perSecond(s.Seconds, func(x bench.Second) float64 { return x.P99 })},
		{"max", perSecond(s.Seconds, func(x bench.Second) float64 { return x.Max })}}, 0, nil)); err != nil {
		return cc, err
	}
	lat, err := spectrum(s.LatencyHDR)
	if err != nil {
		return cc, fmt.Errorf("case %s: latency %w", name, err)
	}
	plat, err := spectrum(s.PlatformHDR)
	if err != nil {
		return cc, fmt.Errorf("case %s: platform time %w", name, err)
	}
	if len(lat) > 0 {
		if err := add(chart(name+": latency distribution (steady state)", "percentile", "ms",
			[]series{{"latency", lat}, {"platform time", plat}}, 0, ninesTicks)); err != nil {
			return cc, err
		}
	}
	if res := s.Resources; res != nil && len(res.Samples) > 1 {
		pick := func(v func(bench.ResourceSample) float64) plotter.XYs {
			pts := make(plotter.XYs, 0, len(res.Samples))
			for _, x := range res.Samples {
				pts = append(pts, plotter.XY{X: float64(x.T), Y: v(x)})
			}
			return pts
		}
		lines := []series{{"host CPU", pick(func(x bench.ResourceSample) float64 { return x.HostCPU })},
			{"generator CPU", pick(func(x bench.ResourceSample) float64 { return x.GeneratorCPU })},
			{"host memory", pick(func(x bench.ResourceSample) float64 { return x.HostMem })}}
		if res.PlatformSampled {
			lines = append(lines, series{"platform CPU", pick(func(x bench.ResourceSample) float64 { return x.PlatformCPU })},
				series{"platform memory", pick(func(x bench.ResourceSample) float64 { return x.PlatformMem })},
				series{"platform host CPU", pick(func(x bench.ResourceSample) float64 { return x.PlatformHostCPU })})
		}
		if err := add(chart(name+": CPU and memory, % of host", "seconds", "%", lines, float64(c.Case.MaxCPU), nil)); err != nil {
			return cc, err
		}
	}
	return cc, nil
}
