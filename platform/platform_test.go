package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

const (
	testMerchant = "m-test"
	testKey      = "k-test-0123456789abcdef"
	testAccounts = 100
	testBalance  = 1_000_000
)

// world is payd on one of the lab's databases, behind an httptest server.
type world struct {
	engine string
	srv    *Server
	http   *httptest.Server
	client *Client
	db     *dbx.DB
}

// newWorld gives each engine a fresh database, migrated and seeded.
func newWorld(t *testing.T, engine string, tweak func(*Config)) *world {
	t.Helper()
	env := labtest.Ensure(t)
	dsn := labtest.FreshDatabase(t, env, engine, labtest.DatabaseName("payd", t))
	cfg := &Config{DSN: dsn, Merchants: []Merchant{{ID: testMerchant, Key: testKey}, {ID: "m-other", Key: "k-other-0123456789abcdef"}}}
	if tweak != nil {
		tweak(cfg)
	}
	if err := cfg.normalize(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := dbx.Open(ctx, dsn, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := Seed(ctx, db, SeedOptions{Accounts: testAccounts, Balance: testBalance, Merchant: testMerchant, Channels: cfg.ChannelNames()}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	return &world{engine: engine, srv: srv, http: hs, db: db,
		client: &Client{BaseURL: hs.URL, Merchant: testMerchant, Key: testKey, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}}
}

// forEachStore runs a test on openGauss's stand-in and on the legacy MariaDB: one
// conformance suite for both stores.
func forEachStore(t *testing.T, tweak func(*Config), test func(t *testing.T, w *world)) {
	for _, engine := range []string{labtest.Gauss, labtest.Legacy} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			test(t, newWorld(t, engine, tweak))
		})
	}
}

// forEachStoreInTurn is forEachStore without parallelism, for tests that measure time.
func forEachStoreInTurn(t *testing.T, tweak func(*Config), test func(t *testing.T, w *world)) {
	for _, engine := range []string{labtest.Gauss, labtest.Legacy} {
		t.Run(engine, func(t *testing.T) { test(t, newWorld(t, engine, tweak)) })
	}
}

func (w *world) do(t *testing.T, method, path string, body any) *Response {
	t.Helper()
	r, err := w.client.Do(context.Background(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func expect(t *testing.T, what string, r *Response, status int, contains string) {
	t.Helper()
	if r.Status != status || !strings.Contains(string(r.Body), contains) {
		t.Errorf("%s: got %d %s, want %d containing %q", what, r.Status, strings.TrimSpace(string(r.Body)), status, contains)
	}
}

func pay(id, typ, ag string, amount int64, channel string) PaymentRequest {
	return PaymentRequest{ReqID: id, Type: typ, AgreementID: ag, Amount: amount, Currency: "CNY", Channel: channel}
}

func balance(t *testing.T, db *dbx.DB, account int64) int64 {
	t.Helper()
	var b int64
	if err := db.QueryRow("SELECT balance FROM accounts WHERE id = "+db.Dialect.Placeholder(1), account).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAPIBehaviour(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		ag1 := SeedAgreementID(1) // account 1, channel tenpay
		ch1 := SeedChannel(w.srv.cfg.ChannelNames(), 1)

		// Agreement lifecycle.
		r := w.do(t, "POST", "/v1/agreements", AgreementRequest{ReqID: "sign-1", Customer: "alice", Channel: "alipay", Account: 7})
		expect(t, "sign", r, 201, `"status":"active"`)
		var ag Agreement
		r.Decode(&ag)
		expect(t, "sign retry", w.do(t, "POST", "/v1/agreements", AgreementRequest{ReqID: "sign-1", Customer: "alice", Channel: "alipay", Account: 7}), 200, ag.ID)
		expect(t, "sign conflict", w.do(t, "POST", "/v1/agreements", AgreementRequest{ReqID: "sign-1", Customer: "bob", Channel: "alipay", Account: 7}), 409, "req_id_conflict")
		expect(t, "sign unknown account", w.do(t, "POST", "/v1/agreements", AgreementRequest{ReqID: "ag-unknown-acct", Customer: "x", Channel: "alipay", Account: 999999}), 422, "unknown_account")
		expect(t, "sign bad channel", w.do(t, "POST", "/v1/agreements", AgreementRequest{ReqID: "ag-bad-channel", Customer: "x", Channel: "paypal", Account: 1}), 400, "unknown_channel")

		// Debit, read back, retry.
		before := balance(t, w.db, 1)
		r = w.do(t, "POST", "/v1/payments", pay("d-1", Debit, ag1, 250, ch1))
		expect(t, "debit", r, 200, `"status":"succeeded"`)
		if r.Replay || r.PlatformTime <= 0 {
			t.Errorf("first debit: replay=%v platform time=%v", r.Replay, r.PlatformTime)
		}
		first := string(r.Body)
		r = w.do(t, "POST", "/v1/payments", pay("d-1", Debit, ag1, 250, ch1))
		if r.Status != 200 || !r.Replay || string(r.Body) != first {
			t.Errorf("retry must return the original answer: %d replay=%v %s", r.Status, r.Replay, r.Body)
		}
		expect(t, "get", w.do(t, "GET", "/v1/payments/d-1", nil), 200, `"amount":250`)
		expect(t, "reused req_id", w.do(t, "POST", "/v1/payments", pay("d-1", Debit, ag1, 251, ch1)), 409, "req_id_conflict")
		expect(t, "credit", w.do(t, "POST", "/v1/payments", pay("c-1", Credit, ag1, 100, ch1)), 200, `"type":"credit"`)
		if got := balance(t, w.db, 1); got != before-250+100 {
			t.Errorf("balance %d, want %d", got, before-150)
		}

		// Business refusals.
		expect(t, "insufficient", w.do(t, "POST", "/v1/payments", pay("d-big", Debit, ag1, 10*testBalance, ch1)), 422, "insufficient_funds")
		expect(t, "insufficient retry", w.do(t, "POST", "/v1/payments", pay("d-big", Debit, ag1, 10*testBalance, ch1)), 422, "insufficient_funds")
		expect(t, "unknown agreement", w.do(t, "POST", "/v1/payments", pay("d-x", Debit, "ag-none", 1, ch1)), 422, "unknown_agreement")
		expect(t, "wrong channel", w.do(t, "POST", "/v1/payments", pay("d-y", Debit, ag1, 1, "other")), 422, "channel_mismatch")
		expect(t, "other merchant's payment", mustDo(t, &Client{BaseURL: w.http.URL, Merchant: "m-other", Key: "k-other-0123456789abcdef"}, "GET", "/v1/payments/d-1"), 404, "not_found")

		// Termination.
		expect(t, "terminate", w.do(t, "DELETE", "/v1/agreements/"+ag1, nil), 200, `"status":"terminated"`)
		expect(t, "terminate again", w.do(t, "DELETE", "/v1/agreements/"+ag1, nil), 200, `"status":"terminated"`)
		expect(t, "terminate unknown", w.do(t, "DELETE", "/v1/agreements/ag-none", nil), 404, "not_found")
		expect(t, "pay on terminated", w.do(t, "POST", "/v1/payments", pay("d-2", Debit, ag1, 1, ch1)), 422, "agreement_terminated")
		r = w.do(t, "POST", "/v1/payments", pay("d-1", Debit, ag1, 250, ch1))
		if r.Status != 200 || string(r.Body) != first {
			t.Errorf("a retry after termination still gets its original answer: %d %s", r.Status, r.Body)
		}

		// Bad input.
		for name, body := range map[string]string{
			"bad json":      `{"req_id":`,
			"unknown field": `{"req_id":"b1","type":"debit","agreement_id":"a","amount":1,"currency":"CNY","channel":"tenpay","x":1}`,
			"zero amount":   `{"req_id":"b2","type":"debit","agreement_id":"a","amount":0,"currency":"CNY","channel":"tenpay"}`,
			"neg amount":    `{"req_id":"b3","type":"debit","agreement_id":"a","amount":-5,"currency":"CNY","channel":"tenpay"}`,
			"float amount":  `{"req_id":"b4","type":"debit","agreement_id":"a","amount":1.5,"currency":"CNY","channel":"tenpay"}`,
			"string amount": `{"req_id":"b5","type":"debit","agreement_id":"a","amount":"1","currency":"CNY","channel":"tenpay"}`,
			"bad type":      `{"req_id":"b6","type":"refund","agreement_id":"a","amount":1,"currency":"CNY","channel":"tenpay"}`,
			"bad currency":  `{"req_id":"b7","type":"debit","agreement_id":"a","amount":1,"currency":"USD","channel":"tenpay"}`,
			"bad channel":   `{"req_id":"b8","type":"debit","agreement_id":"a","amount":1,"currency":"CNY","channel":"paypal"}`,
			"no req_id":     `{"type":"debit","agreement_id":"a","amount":1,"currency":"CNY","channel":"tenpay"}`,
		} {
			r := rawSigned(t, w, "POST", "/v1/payments", body, nil)
			if r.StatusCode() != 400 || r.Header.Get(HeaderPlatformTime) == "" {
				b, _ := io.ReadAll(r.Body)
				t.Errorf("%s: %d %s", name, r.StatusCode(), b)
			}
		}

		// Probes and metrics.
		for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "payd_requests_total",
			"/metrics#host": fmt.Sprintf("payd_host_cpus %d", runtime.NumCPU())} {
			path, _, _ = strings.Cut(path, "#")
			resp, err := http.Get(w.http.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
				t.Errorf("%s: %d %.200s", path, resp.StatusCode, b)
			}
		}
	})
}

func mustDo(t *testing.T, c *Client, method, path string) *Response {
	t.Helper()
	r, err := c.Do(context.Background(), method, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type rawResponse struct {
	*http.Response
}

func (r rawResponse) StatusCode() int { return r.Response.StatusCode }

// rawSigned sends body signed normally, after mutate may change the headers.
func rawSigned(t *testing.T, w *world, method, path, body string, mutate func(h http.Header)) rawResponse {
	t.Helper()
	req, _ := http.NewRequest(method, w.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, testMerchant, testKey, "", []byte(body), time.Now())
	if mutate != nil {
		mutate(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return rawResponse{resp}
}

func TestSignatures(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		body := fmt.Sprintf(`{"req_id":"s-%s","type":"credit","agreement_id":"%s","amount":1,"currency":"CNY","channel":"tenpay"}`, w.engine, SeedAgreementID(1))
		resign := func(method string, ts time.Time) func(h http.Header) {
			return func(h http.Header) {
				tsS := fmt.Sprint(ts.Unix())
				sig, _ := Sign(method, testKey, "POST", "/v1/payments", tsS, h.Get(HeaderNonce), []byte(body))
				h.Set(HeaderTimestamp, tsS)
				h.Set(HeaderSignature, sig)
				h.Set(HeaderSignMethod, method)
			}
		}
		cases := []struct {
			name   string
			mutate func(h http.Header)
			code   string
		}{
			{"no signature", func(h http.Header) { h.Del(HeaderSignature) }, "signature_missing"},
			{"no merchant", func(h http.Header) { h.Del(HeaderMerchant) }, "signature_missing"},
			{"unknown merchant", func(h http.Header) { h.Set(HeaderMerchant, "m-nobody") }, "unknown_merchant"},
			{"bad signature", func(h http.Header) { h.Set(HeaderSignature, strings.Repeat("0", 64)) }, "bad_signature"},
			{"body changed", func(h http.Header) { h.Set(HeaderSignature, strings.Repeat("a", 64)) }, "bad_signature"},
			{"bad timestamp", func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, "bad_timestamp"},
			{"timestamp too old", resign(SignHMACSHA256, time.Now().Add(-6*time.Minute)), "timestamp_out_of_window"},
			{"timestamp in future", resign(SignHMACSHA256, time.Now().Add(6*time.Minute)), "timestamp_out_of_window"},
			{"bad method", func(h http.Header) { h.Set(HeaderSignMethod, "md5") }, "bad_sign_method"},
			{"short nonce", func(h http.Header) { h.Set(HeaderNonce, "abc") }, "bad_nonce"},
		}
		for _, c := range cases {
			r := rawSigned(t, w, "POST", "/v1/payments", body, c.mutate)
			b, _ := io.ReadAll(r.Body)
			if r.StatusCode() != 401 || !strings.Contains(string(b), c.code) {
				t.Errorf("%s: %d %s, want 401 %s", c.name, r.StatusCode(), b, c.code)
			}
		}
		// A valid request goes through once; the same nonce again is a replay.
		var nonce string
		r := rawSigned(t, w, "POST", "/v1/payments", body, func(h http.Header) { nonce = h.Get(HeaderNonce) })
		if r.StatusCode() != 200 {
			b, _ := io.ReadAll(r.Body)
			t.Fatalf("valid request: %d %s", r.StatusCode(), b)
		}
		r = rawSigned(t, w, "POST", "/v1/payments", body, func(h http.Header) {
			h.Set(HeaderNonce, nonce)
			sig, _ := Sign("", testKey, "POST", "/v1/payments", h.Get(HeaderTimestamp), nonce, []byte(body))
			h.Set(HeaderSignature, sig)
		})
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode() != 401 || !strings.Contains(string(b), "replayed_nonce") {
			t.Errorf("replay: %d %s", r.StatusCode(), b)
		}
		// SM3 signatures work.
		sm := &Client{BaseURL: w.http.URL, Merchant: testMerchant, Key: testKey, SignMethod: SignHMACSM3}
		resp, err := sm.Pay(context.Background(), pay("sm3-"+w.engine, Credit, SeedAgreementID(1), 1, "tenpay"))
		if err != nil || resp.Status != 200 {
			t.Errorf("hmac-sm3: %v %+v", err, resp)
		}
	})
}

func TestSameReqIDRacingAppliesOnce(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		ag, ch := SeedAgreementID(5), SeedChannel(w.srv.cfg.ChannelNames(), 5)
		before := balance(t, w.db, 5)
		var wg sync.WaitGroup
		statuses := make([]int, 50)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := w.client.Pay(context.Background(), pay("race-1", Debit, ag, 700, ch))
				if err == nil {
					statuses[i] = r.Status
				}
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("request %d: status %d", i, s)
			}
		}
		var n int
		w.db.QueryRow("SELECT count(*) FROM payments WHERE req_id = 'race-1'").Scan(&n)
		if n != 1 {
			t.Errorf("%d flow rows for one req_id", n)
		}
		if got := balance(t, w.db, 5); got != before-700 {
			t.Errorf("balance %d, want %d (debited exactly once)", got, before-700)
		}
	})
}

// TestShellClientSigns checks the published contract with a second, independent
// implementation: scripts/signed-curl.sh signs with openssl in bash.
func TestShellClientSigns(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for the contract test: %v", tool, err)
		}
	}
	w := newWorld(t, labtest.Gauss, nil)
	body := fmt.Sprintf(`{"req_id":"sh-1","type":"credit","agreement_id":"%s","amount":42,"currency":"CNY","channel":"tenpay"}`, SeedAgreementID(1))
	cmd := exec.Command("bash", "../scripts/signed-curl.sh", "POST", "/v1/payments", body)
	cmd.Env = append(os.Environ(), "PAYD_URL="+w.http.URL, "XCKIT_MERCHANT_ID="+testMerchant, "XCKIT_MERCHANT_KEY="+testKey)
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"status":"succeeded"`) || !strings.Contains(string(out), `"amount":42`) {
		t.Errorf("shell-signed payment: %v %s", err, out)
	}
}

// TestConcurrentMigrations: several hosts installing at once migrate once, none fails.
func TestConcurrentMigrations(t *testing.T) {
	env := labtest.Ensure(t)
	for _, engine := range []string{labtest.Gauss, labtest.Legacy} {
		dsn := labtest.FreshDatabase(t, env, engine, labtest.DatabaseName("mig_"+engine, t))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := dbx.Open(context.Background(), dsn, dbx.Options{})
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				_, errs[i] = Migrate(context.Background(), db)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s migrator %d: %v", engine, i, err)
			}
		}
	}
}
