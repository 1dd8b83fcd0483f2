package bench

import (
	"context"
	"fmt"

	"github.com/xckit/xckit/profiles"
)

// CapacityStep is one rate tried.
type CapacityStep struct {
	Rate    float64  `json:"rate"`
	Summary *Summary `json:"summary"`
	Verdict Verdict  `json:"verdict"`
}

// CapacityOptions drive a capacity search.
type CapacityOptions struct {
	Case  profiles.Case // its latency and success limits are held at every step
	Start float64       // first rate
	Step  float64       // added each time
	Max   float64       // stop here at the latest
	Run   Options       // duration and warm-up of each step (Rate is set per step)
	// OnStep, when set, hears each step as it ends.
	OnStep func(CapacityStep)
}

// Capacity raises the rate step by step until a step breaks the case's limits and
// returns every step and the highest rate that met them (0 when the first failed).
func Capacity(ctx context.Context, w Workload, o CapacityOptions) ([]CapacityStep, float64, error) {
	if o.Start <= 0 || o.Step <= 0 || o.Max < o.Start {
		return nil, 0, fmt.Errorf("capacity: need start > 0, step > 0 and max >= start")
	}
	var steps []CapacityStep
	best := 0.0
	for rate := o.Start; rate <= o.Max; rate += o.Step {
		opts := o.Run
		opts.Rate = rate
		s, err := Run(ctx, w, opts)
		if err != nil {
			return steps, best, err
		}
		c := o.Case
		c.TPS = profiles.Rate(rate)
		st := CapacityStep{Rate: rate, Summary: s, Verdict: Judge(c, s)}
		steps = append(steps, st)
		if o.OnStep != nil {
			o.OnStep(st)
		}
		if !st.Verdict.Pass {
			break
		}
		best = rate
	}
	return steps, best, nil
}
