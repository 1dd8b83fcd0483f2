package cutover

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The smoke asks again, with the same request ids, while the balancer answers 502/503
// (a worker with the old route, a side not serving yet), on a fresh connection each
// time; it stops at once on a refusal, and within its patience on a balancer that
// never serves.
func TestSmokeWaitsForTheRoutedSide(t *testing.T) {
	cases := []struct {
		name    string
		answers []int // status per request, the last one repeated
		wantErr string
		wantMsg string
		tries   int
	}{
		{"served at once", []int{200}, "", "through the balancer: 200", 2},
		{"old worker, then served", []int{503, 503, 200}, "", "debit answered on try 3 (first: HTTP 503 {\"error\":\"drained\"}", 4},
		{"side not serving yet", []int{502, 200}, "", "debit answered on try 2 (first: HTTP 502", 3},
		{"refused", []int{401}, "smoke debit through the balancer: HTTP 401", "", 1},
		{"never served", []int{503}, "still after", "", 0},
	}
	defer func(p time.Duration) { smokePatience = p }(smokePatience)
	smokePatience = 700 * time.Millisecond
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			n, kept := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p struct {
					ReqID string `json:"req_id"`
				}
				json.NewDecoder(r.Body).Decode(&p)
				mu.Lock()
				st := tc.answers[min(n, len(tc.answers)-1)]
				n++
				ids = append(ids, p.ReqID)
				if !r.Close {
					kept++
				}
				mu.Unlock()
				w.WriteHeader(st)
				if st == 503 {
					w.Write([]byte(`{"error":"drained"}`))
				}
			}))
			defer srv.Close()
			o := &op{Options: Options{Site: &Site{}}, rep: &Report{Kind: "cutover"}}
			o.Site.Switch.Probe = srv.URL + "/"
			o.Site.Smoke = Smoke{Merchant: "m1", Key: "k", Agreement: "ag-1", Channel: "tenpay"}
			msg, err := smoke(context.Background(), o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("smoke = %q, %v; want %q", msg, err, tc.wantMsg)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.tries > 0 && n != tc.tries {
				t.Errorf("%d requests, want %d", n, tc.tries)
			}
			if kept != 0 {
				t.Errorf("%d requests asked to keep their connection: each must have its own", kept)
			}
			// Every retry of a payment carries its request id: the platform answers it once.
			seen := map[string]int{}
			for _, id := range ids {
				seen[id]++
			}
			if len(seen) > 2 {
				t.Errorf("request ids %v: a retry must reuse its id", ids)
			}
		})
	}
}
