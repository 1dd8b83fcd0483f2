package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTPGetWorkload sends plain GET requests to one URL (scenario http.get): it
// measures the generator itself against a trivial endpoint, side by side with wrk.
type HTTPGetWorkload struct {
	Client *http.Client
	URL    string
}

// Next returns one GET.
func (h *HTTPGetWorkload) Next(context.Context, int) Op {
	return func(ctx context.Context) Result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
		if err != nil {
			return Result{Class: "request"}
		}
		resp, err := h.Client.Do(req)
		if err != nil {
			return Result{Class: classify(err)}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return Result{Class: fmt.Sprintf("http_%d", resp.StatusCode)}
		}
		return Result{Class: "ok"}
	}
}
