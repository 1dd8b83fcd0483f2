package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/xckit/xckit/cdc"
)

// copyProgress shows an online copy per table: rows, rows/s and the time left by the
// source's row estimate. On a terminal it is a bar; otherwise a line every 5 seconds
// and one when a table is done (for logs).
type copyProgress struct {
	mu     sync.Mutex
	w      io.Writer
	bar    *progressbar.ProgressBar
	tables map[string]cdc.TableProgress
	last   time.Time
}

func newCopyProgress(w io.Writer, terminal bool) *copyProgress {
	p := &copyProgress{w: w, tables: map[string]cdc.TableProgress{}, last: time.Now()}
	if terminal {
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetDescription("copy"))
	}
	return p
}

func (p *copyProgress) update(t cdc.TableProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tables[t.Table] = t
	if p.bar == nil && !t.Done && time.Since(p.last) < 5*time.Second {
		return // a log line every 5 s: nothing to render now
	}
	line := p.line()
	if p.bar != nil {
		var rows int64
		for _, tp := range p.tables {
			rows += tp.Rows
		}
		p.bar.Describe(line)
		p.bar.Set64(rows)
		return
	}
	fmt.Fprintln(p.w, "copy: "+line)
	p.last = time.Now()
}

// line is "payments 1200000/5000000 104k rows/s ETA 36s; accounts done".
func (p *copyProgress) line() string {
	names := make([]string, 0, len(p.tables))
	for n := range p.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		t := p.tables[n]
		if t.Done {
			parts = append(parts, fmt.Sprintf("%s done (%d rows)", n, t.Rows))
			continue
		}
		rate := 0.0
		if s := time.Since(t.Started).Seconds(); s > 0 {
			rate = float64(t.Rows-t.Before) / s
		}
		eta := "?"
		if rate > 0 && t.Estimate > t.Rows {
			eta = (time.Duration(float64(t.Estimate-t.Rows)/rate) * time.Second).Round(time.Second).String()
		}
		parts = append(parts, fmt.Sprintf("%s %d/~%d %.0f rows/s ETA %s", n, t.Rows, t.Estimate, rate, eta))
	}
	return strings.Join(parts, "; ")
}

func (p *copyProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
