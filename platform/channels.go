package platform

import (
	"context"
	"time"
)

// gate is a channel's admission control: at most max requests inside, and a request
// that cannot get in within the queue timeout is turned away (503 + Retry-After)
// instead of queueing without bound.
type gate struct {
	name    string
	slots   chan struct{}
	timeout time.Duration
	store   *Store // the channel's own database pool
}

func newGate(ch Channel, store *Store) *gate {
	return &gate{name: ch.Name, slots: make(chan struct{}, ch.MaxConcurrency), timeout: ch.QueueTimeout, store: store}
}

// enter waits for a slot; the returned func leaves it.
func (g *gate) enter(ctx context.Context) (func(), bool) {
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, true
	default:
	}
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

func (g *gate) inFlight() int { return len(g.slots) }
