package cutover

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xckit/xckit/platform"
)

// smokePatience bounds how long the smoke waits for the routed side to serve
// through the balancer. A balancer that has just reported the new route can still
// hand a request to a worker (or pool member) of the old one, or to a side whose
// listener is up but not yet serving: a 502/503/504 or a lost connection is asked
// again with the same request ids, which the platform answers idempotently. A
// refusal (4xx, 500) is not asked again.
var smokePatience = 15 * time.Second

// smoke sends a signed debit and credit of 1 fen through the balancer. Each request
// has a connection of its own: a kept-alive one from a shared pool could reach a
// worker of the balancer that still has the previous route.
func smoke(ctx context.Context, o *op) (string, error) {
	s := o.Site.Smoke
	c := &platform.Client{BaseURL: strings.TrimRight(o.Site.Switch.Probe, "/"), Merchant: s.Merchant, Key: s.Key,
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	id := fmt.Sprintf("xckit-%s-smoke-%d", o.rep.Kind, time.Now().UnixNano())
	var waited []string
	for _, typ := range []string{platform.Debit, platform.Credit} {
		req := platform.PaymentRequest{ReqID: id + "-" + typ, Type: typ, AgreementID: s.Agreement, Amount: 1, Currency: "CNY", Channel: s.Channel}
		tries, first, err := payUntilServed(ctx, c, req, smokePatience)
		if err != nil {
			return "", fmt.Errorf("smoke %s through the balancer: %w", typ, err)
		}
		if tries > 1 {
			waited = append(waited, fmt.Sprintf("%s answered on try %d (first: %s)", typ, tries, first))
		}
	}
	msg := "debit and credit of 1 fen through the balancer: 200"
	if len(waited) > 0 {
		msg += "; " + strings.Join(waited, ", ")
	}
	return msg, nil
}

// payUntilServed sends one payment until the platform answers 200 or refuses it, for
// at most patience; it returns the number of tries and what the first one met.
func payUntilServed(ctx context.Context, c *platform.Client, req platform.PaymentRequest, patience time.Duration) (int, string, error) {
	deadline := time.Now().Add(patience)
	first := ""
	for try := 1; ; try++ {
		r, err := c.Pay(ctx, req)
		var last string
		switch {
		case err != nil:
			last = err.Error()
		case r.Status == http.StatusOK:
			return try, first, nil
		case r.Status == http.StatusBadGateway || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout:
			last = fmt.Sprintf("HTTP %d %s", r.Status, strings.TrimSpace(string(r.Body)))
		default:
			return try, first, fmt.Errorf("HTTP %d %s", r.Status, strings.TrimSpace(string(r.Body)))
		}
		if first == "" {
			first = last
		}
		if ctx.Err() != nil {
			return try, first, fmt.Errorf("%s: %w", last, ctx.Err())
		}
		if time.Now().After(deadline) {
			return try, first, fmt.Errorf("%s (still after %d tries over %s: the balancer reports the route, but the side does not serve through it)", last, try, patience)
		}
		select {
		case <-ctx.Done():
			return try, first, fmt.Errorf("%s: %w", last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
