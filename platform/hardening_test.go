package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// A burst of debits the balance cannot cover, at 2x and 10x the channel's pool, is
// answered at once (422) on both stores, and another channel does not feel it. The
// refusal path used to read the agreement on a second connection while its
// transaction held the first: pool-size concurrent refusals then waited for each other
// until the write timeout.
func TestRefusalBurstDoesNotFreezeChannel(t *testing.T) {
	const pool = 8
	tweak := func(c *Config) {
		c.Channels = []Channel{
			{Name: "tenpay", MaxConcurrency: 10 * pool, PoolSize: pool, QueueTimeout: 10 * time.Second},
			{Name: "alipay", MaxConcurrency: 8, PoolSize: 8, QueueTimeout: time.Second},
		}
	}
	forEachStoreInTurn(t, tweak, func(t *testing.T, w *world) {
		ctx := context.Background()
		for _, burst := range []int{2 * pool, 10 * pool} {
			// Account 1 is tenpay's: one debit for more than its balance each.
			var wg sync.WaitGroup
			statuses := make([]int, burst)
			var slowest time.Duration
			var mu sync.Mutex
			for i := range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					start := time.Now()
					r, err := w.client.Pay(cctx, pay(fmt.Sprintf("burst-%d-%d", burst, i), Debit, SeedAgreementID(1), testBalance+1, "tenpay"))
					mu.Lock()
					defer mu.Unlock()
					slowest = max(slowest, time.Since(start))
					if err == nil {
						statuses[i] = r.Status
					}
				}()
			}
			// Meanwhile alipay (account 2) takes payments.
			var lat []time.Duration
			for i := range 20 {
				start := time.Now()
				r, err := w.client.Pay(ctx, pay(fmt.Sprintf("other-%d-%d", burst, i), Credit, SeedAgreementID(2), 1, "alipay"))
				if err != nil || r.Status != 200 {
					t.Fatalf("alipay during the burst: %v %v", err, r)
				}
				lat = append(lat, time.Since(start))
			}
			wg.Wait()
			slices.Sort(lat)
			t.Logf("%s: %d refusals, slowest %v; alipay meanwhile p50 %v max %v", w.engine, burst, slowest, lat[len(lat)/2], lat[len(lat)-1])
			for i, st := range statuses {
				if st != 422 {
					t.Fatalf("burst of %d: refusal %d answered %d (0: no answer within 10 s)", burst, i, st)
				}
			}
			if slowest > 5*time.Second {
				t.Errorf("burst of %d: the slowest refusal took %v", burst, slowest)
			}
			if lat[len(lat)-1] > 2*time.Second {
				t.Errorf("burst of %d: another channel waited %v", burst, lat[len(lat)-1])
			}
		}
	})
}

// A signed request captured once is refused after payd restarts and by a second payd
// on the same database; an agreement without req_id is refused outright, so a replay
// elsewhere cannot sign a second one.
func TestReplayAcrossRestartAndInstances(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		body := fmt.Sprintf(`{"req_id":"replay-%s","customer":"c","channel":"tenpay","account":3}`, w.engine)
		var captured http.Header
		if r := rawSigned(t, w, "POST", "/v1/agreements", body, func(h http.Header) { captured = h.Clone() }); r.StatusCode() != 201 {
			b, _ := io.ReadAll(r.Body)
			t.Fatalf("first request: %d %s", r.StatusCode(), b)
		}
		replay := func(url string) (int, string) { return resend(t, url, "/v1/agreements", body, captured) }
		if st, b := replay(w.http.URL); st != 401 || !strings.Contains(b, "replayed_nonce") {
			t.Errorf("replay on the same payd: %d %s", st, b)
		}
		if nonces := w.srv.verify.nonces.(*dbNonces).db; nonces.Dialect.Family() == dbx.FamilyPostgres {
			var sc string
			if err := nonces.QueryRow("SHOW synchronous_commit").Scan(&sc); err != nil || sc != "off" {
				t.Errorf("the nonce pool waits for the WAL flush: synchronous_commit %q %v", sc, err)
			}
		}
		if r := rawSigned(t, w, "POST", "/v1/agreements", `{"customer":"c","channel":"tenpay","account":3}`, nil); r.StatusCode() != 400 {
			t.Errorf("an agreement without req_id: %d, want 400 bad_req_id", r.StatusCode())
		}
		// A payment spends its nonce inside its own transaction: replayed, it is refused
		// too (and after the restart below).
		payBody := fmt.Sprintf(`{"req_id":"replay-pay-%s","type":"credit","agreement_id":"%s","amount":1,"currency":"CNY","channel":"tenpay"}`, w.engine, SeedAgreementID(1))
		var payHeaders http.Header
		if r := rawSigned(t, w, "POST", "/v1/payments", payBody, func(h http.Header) { payHeaders = h.Clone() }); r.StatusCode() != 200 {
			t.Fatalf("payment: %d", r.StatusCode())
		}
		replayPay := func(url string) (int, string) { return resend(t, url, "/v1/payments", payBody, payHeaders) }
		if st, b := replayPay(w.http.URL); st != 401 || !strings.Contains(b, "replayed_nonce") {
			t.Errorf("payment replayed on the same payd: %d %s", st, b)
		}
		// A restart: a new server on the same database.
		w.http.Close()
		w.srv.Close()
		second, err := NewServer(context.Background(), w.srv.cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		third, err := NewServer(context.Background(), w.srv.cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for name, srv := range map[string]*Server{"after a restart": second, "on a second instance": third} {
			hs := httptest.NewServer(srv.Handler())
			if st, b := replay(hs.URL); st != 401 || !strings.Contains(b, "replayed_nonce") {
				t.Errorf("replay %s: %d %s", name, st, b)
			}
			if st, b := replayPay(hs.URL); st != 401 || !strings.Contains(b, "replayed_nonce") {
				t.Errorf("payment replayed %s: %d %s", name, st, b)
			}
			hs.Close()
			srv.Close()
		}
	})
}

// Only JSON bodies are accepted; anything else is 415 before the signature is checked.
func TestContentTypeMustBeJSON(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		body := fmt.Sprintf(`{"req_id":"ct-%s","type":"credit","agreement_id":"%s","amount":1,"currency":"CNY","channel":"tenpay"}`, w.engine, SeedAgreementID(1))
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/jsonx"} {
			r := rawSigned(t, w, "POST", "/v1/payments", body, func(h http.Header) { h.Set("Content-Type", ct) })
			if r.StatusCode() != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Type %q: %d, want 415", ct, r.StatusCode())
			}
		}
		if r := rawSigned(t, w, "POST", "/v1/payments", body, func(h http.Header) { h.Set("Content-Type", "application/json; charset=utf-8") }); r.StatusCode() != 200 {
			t.Errorf("application/json with a charset: %d", r.StatusCode())
		}
	})
}

// resend sends a captured signed request again, headers and all.
func resend(t *testing.T, url, path, body string, headers http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
	req.Header = headers.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A payment refused without being stored (an unknown agreement) still spends its
// nonce: the same captured request sent again later is a replay, not a second chance
// (it would go through once the agreement exists).
func TestRefusedPaymentSpendsItsNonce(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		body := fmt.Sprintf(`{"req_id":"early-%s","type":"debit","agreement_id":"ag-not-yet","amount":1,"currency":"CNY","channel":"tenpay"}`, w.engine)
		var captured http.Header
		r := rawSigned(t, w, "POST", "/v1/payments", body, func(h http.Header) { captured = h.Clone() })
		if r.StatusCode() != 422 {
			t.Fatalf("payment to an unknown agreement: %d", r.StatusCode())
		}
		if st, b := resend(t, w.http.URL, "/v1/payments", body, captured); st != 401 || !strings.Contains(b, "replayed_nonce") {
			t.Errorf("the refused request sent again: %d %s, want 401 replayed_nonce", st, b)
		}
	})
}
