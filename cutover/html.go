package cutover

import (
	"bytes"
	"html/template"
	"strconv"
)

var reportPage = template.Must(template.New("r").Funcs(template.FuncMap{
	"f2":     strconvFormat,
	"width":  func(float64) int { return 0 },
	"passed": func(v string) bool { return v == "ok" || v == "nothing-to-do" },
	"inc":    func(i int) int { return i + 1 },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xckit {{.Kind}}</title>
<style>
body{font:14px/1.4 sans-serif;margin:2em;color:#222}
.verdict{font-size:2em;font-weight:bold;padding:.4em .8em;display:inline-block;border-radius:6px}
.pass{background:#d4f4dd;color:#14532d}.fail{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}th{background:#f3f3f3}
.bar{background:#1f77b4;height:.8em;display:inline-block}
</style></head><body>
<div id="verdict" class="verdict {{if passed .Verdict}}pass{{else}}fail{{end}}">{{.Kind}}: {{.Verdict}}</div>
<h1>{{if .RTOSeconds}}RTO {{f2 .RTOSeconds}} s{{end}}{{if .RPO}} · RPO {{.RPO}}{{end}}</h1>
<p>started {{.Started.Format "2006-01-02 15:04:05 MST"}}{{if .FenceLSN}}, fence at {{.FenceLSN}}{{end}}{{if .RTOSeconds}}; RTO is the clients' wait, from the first drain until the balancer routed again{{end}}{{if .RPOTransactions}}; RPO in transactions: {{.RPOTransactions}}{{end}}</p>
{{if .Window}}<h2>The window (RTO), step by step</h2><table id="window"><tr><th>step</th><th>seconds</th></tr>
{{range .Window}}<tr><td>{{.Step}}</td><td>{{f2 .Seconds}}</td></tr>
{{end}}</table>{{end}}{{if .ForwardLag}}<p id="forward-lag">forward CDC's lag when the legacy fence was read: {{.ForwardLag}}</p>{{end}}
{{if .Nodes}}<h2>The new database's nodes (the fence, proven on each)</h2><table id="nodes"><tr><th>node</th><th>role</th><th>proof</th></tr>
{{range .Nodes}}<tr><td>{{.Node}}</td><td>{{.Role}}</td><td>{{.Proof}}</td></tr>
{{end}}</table>{{end}}
{{if .World}}<p id="world">found before it started: {{.World}}</p>{{end}}
{{if gt (len .Runs) 1}}<h2>Runs (interrupted and resumed)</h2><table id="runs"><tr><th>run</th><th>started</th><th>seconds</th></tr>
{{range $i, $r := .Runs}}<tr><td>{{inc $i}}{{if $r.Resumed}} (--resume){{end}}</td><td>{{$r.Started.Format "15:04:05.000"}}</td><td>{{f2 $r.Seconds}}</td></tr>
{{end}}</table>{{end}}
<table id="steps"><tr><th>#</th><th>step</th><th>status</th><th>seconds</th><th></th><th>detail</th></tr>
{{range $i, $s := .Steps}}<tr><td>{{inc $i}}</td><td>{{$s.Name}}</td><td>{{$s.Status}}</td><td>{{f2 $s.Seconds}}</td><td><span class="bar" style="width:{{width $s.Seconds}}px"></span></td><td>{{$s.Detail}}</td></tr>
{{end}}</table>
{{if .Restored}}<h2>Restored after the abort</h2><ul>{{range .Restored}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))

// HTML renders a cutover or rollback report as one offline page: verdict, RTO and RPO
// first, then each step with its time drawn as a bar.
func (r Report) HTML() ([]byte, error) {
	max := 0.0
	for _, s := range r.Steps {
		if s.Seconds > max {
			max = s.Seconds
		}
	}
	t, err := reportPage.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{"width": func(v float64) int {
		if max <= 0 {
			return 0
		}
		return int(300 * v / max)
	}})
	var b bytes.Buffer
	err = t.Execute(&b, r)
	return b.Bytes(), err
}

func strconvFormat(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
