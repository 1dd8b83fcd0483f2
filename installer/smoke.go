package installer

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

// SmokeAccount is the dedicated account of the smoke test of the payd at listen on
// this host; its balance is left as found. Each application host has its own: hosts
// installing at once share the database, and on a shared account one host's debit
// would move the balance another host is checking.
func SmokeAccount(listen string) int64 {
	host, _ := os.Hostname()
	h := fnv.New32a()
	h.Write([]byte(host + "|" + listen))
	return 9_000_000_000_001 + int64(h.Sum32()%1_000_000)
}

func planSmoke(ctx context.Context, r *run) ([]string, error) {
	return []string{fmt.Sprintf("would sign the smoke agreement and run debit 100 + query + credit 100 on account %d (balance unchanged)", SmokeAccount(r.o.Listen))}, nil
}

func applySmoke(ctx context.Context, r *run) (int, error) {
	db, err := r.appDB(ctx)
	if err != nil {
		return 0, err
	}
	s, err := r.loadSecrets()
	if err != nil {
		return 0, err
	}
	acct := SmokeAccount(r.o.Listen)
	ph := db.Dialect.Placeholders
	_, err = db.ExecContext(ctx, "INSERT INTO accounts (id, customer, currency, balance, version, updated_at) VALUES ("+ph(1, 6)+")",
		acct, "xckit-smoke", "CNY", int64(1_000_000), 0, time.Now().UTC())
	if err != nil && !dbx.IsUniqueViolation(err) {
		return 0, fmt.Errorf("smoke account: %w", err)
	}
	balance := func() (int64, error) {
		var b int64
		err := db.QueryRowContext(ctx, "SELECT balance FROM accounts WHERE id = "+db.Dialect.Placeholder(1), acct).Scan(&b)
		return b, err
	}
	before, err := balance()
	if err != nil {
		return 0, err
	}
	c := &platform.Client{BaseURL: "http://" + r.o.Listen, Merchant: s.Merchants[0].ID, Key: s.Merchants[0].Key, HTTP: &http.Client{Timeout: 10 * time.Second}}
	start := time.Now()
	resp, err := c.Do(ctx, http.MethodPost, "/v1/agreements", platform.AgreementRequest{ReqID: fmt.Sprintf("xckit-smoke-%d", acct), Customer: "xckit-smoke", Channel: "tenpay", Account: acct})
	if err != nil || (resp.Status != 200 && resp.Status != 201) {
		return 0, fmt.Errorf("smoke: sign agreement: %v %s", err, body(resp))
	}
	var ag platform.Agreement
	resp.Decode(&ag)
	id := fmt.Sprintf("xckit-smoke-%d", time.Now().UnixNano())
	steps := []struct {
		name, method, path string
		req                any
	}{
		{"debit", http.MethodPost, "/v1/payments", platform.PaymentRequest{ReqID: id + "-d", Type: platform.Debit, AgreementID: ag.ID, Amount: 100, Currency: "CNY", Channel: "tenpay"}},
		{"query", http.MethodGet, "/v1/payments/" + id + "-d", nil},
		{"credit", http.MethodPost, "/v1/payments", platform.PaymentRequest{ReqID: id + "-c", Type: platform.Credit, AgreementID: ag.ID, Amount: 100, Currency: "CNY", Channel: "tenpay"}},
	}
	for _, st := range steps {
		resp, err := c.Do(ctx, st.method, st.path, st.req)
		if err != nil || resp.Status != 200 {
			return 0, fmt.Errorf("smoke: %s: %v %s", st.name, err, body(resp))
		}
	}
	after, err := balance()
	if err != nil {
		return 0, err
	}
	if after != before {
		return 0, fmt.Errorf("smoke: balance of account %d moved from %d to %d: debit and credit must cancel", acct, before, after)
	}
	r.note("smoke: agreement %s, debit + query + credit in %s, balance unchanged (%d)", ag.ID, time.Since(start).Round(time.Millisecond), after)
	return 0, nil
}

func body(r *platform.Response) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("(HTTP %d: %s)", r.Status, r.Body)
}
