package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xckit/xckit/profiles"
)

// TestCapacityFindsTheKnee: a server that handles 5 requests at once and takes 20 ms
// each serves about 250/s; with a 100 ms average limit the search passes 100 and 200/s
// and stops at 300/s.
func TestCapacityFindsTheKnee(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	slots := make(chan struct{}, 5)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slots <- struct{}{}
		time.Sleep(20 * time.Millisecond)
		<-slots
	}))
	defer srv.Close()
	c := profiles.Case{Name: "x", MaxAvgLatency: profiles.Duration(100 * time.Millisecond), MinSuccess: 100}
	steps, best, err := Capacity(context.Background(), httpWorkload{srv.URL}, CapacityOptions{Case: c, Start: 100, Step: 100, Max: 600,
		Run: Options{Duration: 2 * time.Second, Concurrency: 400}})
	if err != nil {
		t.Fatal(err)
	}
	if best != 200 || len(steps) != 3 || steps[2].Verdict.Pass {
		for _, s := range steps {
			t.Logf("%.0f/s: avg %.1f ms pass %v %v", s.Rate, s.Summary.Latency.Avg, s.Verdict.Pass, s.Verdict.Reasons)
		}
		t.Errorf("best %.0f after %d steps, want 200 after 3", best, len(steps))
	}
	if _, _, err := Capacity(context.Background(), httpWorkload{srv.URL}, CapacityOptions{Start: 0}); err == nil {
		t.Error("bad options must be an error")
	}
}
