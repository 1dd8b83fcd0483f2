package bench

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func encodeHist(h *hdrhistogram.Histogram) string {
	if h.TotalCount() == 0 {
		return ""
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b)
}

// Merge combines summaries of the same case run at once from several generator hosts:
// counts and rates add up, distributions come from the merged HDR histograms (exact,
// not an average of percentiles). hosts names the generator host of each part (for
// the per-generator load in Resources.Generators); missing names are numbered.
func Merge(parts []*Summary, hosts []string) (*Summary, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	out := &Summary{Mode: parts[0].Mode, Duration: parts[0].Duration, Warmup: parts[0].Warmup, Errors: map[string]int64{}}
	lat, plat := newHist(), newHist()
	for i, p := range parts {
		out.TargetRate += p.TargetRate
		out.Concurrency += p.Concurrency
		out.Ops += p.Ops
		out.OK += p.OK
		out.Failed += p.Failed
		out.Late += p.Late
		out.Unstarted += p.Unstarted
		out.Achieved += p.Achieved
		if out.Resources == nil && p.Resources != nil && p.Resources.PlatformSampled {
			r := *p.Resources // the platform is the same for every generator
			out.Resources = &r
		}
		for k, v := range p.Errors {
			out.Errors[k] += v
		}
		for _, pair := range []struct {
			enc string
			to  *hdrhistogram.Histogram
		}{{p.LatencyHDR, lat}, {p.PlatformHDR, plat}} {
			if pair.enc == "" {
				continue
			}
			h, err := hdrhistogram.Decode([]byte(pair.enc))
			if err != nil {
				return nil, fmt.Errorf("part %d: histogram: %w", i+1, err)
			}
			pair.to.Merge(h)
		}
		if p.LatencyHDR == "" && p.Ops > 0 {
			return nil, fmt.Errorf("part %d has no histogram (made by an older xckit): cannot merge exactly", i+1)
		}
	}
	// Each generator host's own load stays visible: its CPU and what else ran there.
	for i, p := range parts {
		if p.Resources == nil {
			continue
		}
		if out.Resources == nil {
			out.Resources = &Resources{}
		}
		name := fmt.Sprintf("generator %d", i+1)
		if i < len(hosts) && hosts[i] != "" {
			name = hosts[i]
		}
		g := GeneratorLoad{Host: name, HostCPU: p.Resources.Avg.HostCPU,
			GeneratorCPU: p.Resources.Avg.GeneratorCPU, OtherCPU: p.Resources.OtherCPU}
		for _, pc := range p.Resources.Processes {
			if pc.Role == "other" && len(g.Others) < 3 {
				g.Others = append(g.Others, pc)
			}
		}
		out.Resources.Generators = append(out.Resources.Generators, g)
	}
	if out.Ops > 0 {
		out.Success = 100 * float64(out.OK) / float64(out.Ops)
	}
	out.Latency, out.Platform = dist(lat), dist(plat)
	out.LatencyHDR, out.PlatformHDR = encodeHist(lat), encodeHist(plat)
	return out, nil
}
