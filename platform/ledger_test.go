package platform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLedgerInvariant sends 10,000 random debits and credits over 100 accounts from
// 16 workers, with retries of earlier req_ids mixed in, and checks that every balance
// equals its initial balance plus its succeeded flows.
func TestLedgerInvariant(t *testing.T) {
	forEachStore(t, nil, func(t *testing.T, w *world) {
		const total, workers = 10_000, 16
		channels := w.srv.cfg.ChannelNames()
		var next atomic.Int64
		var failures atomic.Int64
		var wg sync.WaitGroup
		for wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(wk), 42))
				for {
					i := next.Add(1)
					if i > total {
						return
					}
					acct := rng.IntN(testAccounts) + 1
					typ := Debit
					if rng.IntN(3) == 0 {
						typ = Credit
					}
					id := fmt.Sprintf("l-%d", i)
					if rng.IntN(10) == 0 && i > 100 {
						id = fmt.Sprintf("l-%d", rng.Int64N(i-1)+1) // a retry, possibly of another body
					}
					req := pay(id, typ, SeedAgreementID(acct), int64(rng.IntN(50_000)+1), SeedChannel(channels, acct))
					r, err := w.client.Pay(context.Background(), req)
					if err != nil || (r.Status != 200 && r.Status != 422 && r.Status != 409) {
						failures.Add(1)
						if err == nil {
							t.Logf("%s: %d %s", id, r.Status, r.Body)
						}
					}
				}
			}()
		}
		wg.Wait()
		if f := failures.Load(); f > 0 {
			t.Fatalf("%d requests failed", f)
		}
		rows, err := w.db.Query(`SELECT a.id, a.balance,
			COALESCE((SELECT SUM(CASE WHEN p.type = 'credit' THEN p.amount ELSE -p.amount END) FROM payments p WHERE p.account_id = a.id AND p.status = 'succeeded'), 0)
			FROM accounts a`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id, bal, flows int64
			rows.Scan(&id, &bal, &flows)
			if bal != testBalance+flows {
				t.Errorf("account %d: balance %d, initial %d + flows %d = %d", id, bal, testBalance, flows, testBalance+flows)
			}
			if bal < 0 {
				t.Errorf("account %d is overdrawn: %d", id, bal)
			}
			n++
		}
		if n != testAccounts {
			t.Errorf("%d accounts", n)
		}
		var stored int
		w.db.QueryRow("SELECT count(*) FROM payments").Scan(&stored)
		if stored == 0 || stored > total {
			t.Errorf("%d payments stored for %d requests", stored, total)
		}
	})
}

// TestChannelIsolation saturates one channel (its requests wait on a locked account
// and fill its concurrency slots) and checks that it sheds load with a quick 503 +
// Retry-After while another channel's p99 stays within 2x of its idle p99.
func TestChannelIsolation(t *testing.T) {
	tweak := func(c *Config) {
		c.Channels = []Channel{
			{Name: "tenpay", MaxConcurrency: 4, PoolSize: 4, QueueTimeout: 20 * time.Millisecond},
			{Name: "alipay", MaxConcurrency: 8, PoolSize: 8, QueueTimeout: 200 * time.Millisecond},
		}
	}
	forEachStoreInTurn(t, tweak, func(t *testing.T, w *world) {
		ctx := context.Background()
		// account 1 is tenpay's, account 2 alipay's.
		probe := func(n int, prefix string) time.Duration {
			var lat []time.Duration
			for i := range n {
				start := time.Now()
				r, err := w.client.Pay(ctx, pay(fmt.Sprintf("%s-%d", prefix, i), Credit, SeedAgreementID(2), 1, "alipay"))
				if err != nil || r.Status != 200 {
					t.Fatalf("alipay probe: %v %v", err, r)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			return lat[len(lat)*99/100]
		}
		probe(50, "warm")
		// Timing on a shared 2-core machine is noisy: up to three attempts, and the
		// property holds if one attempt shows it. Broken isolation (a shared pool or
		// gate) blocks alipay behind the held lock in every attempt.
		for attempt := 1; attempt <= 3; attempt++ {
			idle := probe(300, fmt.Sprintf("idle%d", attempt))
			loaded, busy, shedFast := saturate(t, w, attempt, func() time.Duration { return probe(300, fmt.Sprintf("loaded%d", attempt)) })
			if busy == 0 || shedFast != busy {
				t.Fatalf("saturated tenpay answered %d times 503 with Retry-After, %d of them quickly", busy, shedFast)
			}
			t.Logf("%s attempt %d: alipay p99 idle %v, with tenpay saturated %v; tenpay shed %d requests", w.engine, attempt, idle, loaded, busy)
			limit := max(2*idle, 2*time.Millisecond) // sub-millisecond p99s are below the scheduler's noise
			if loaded <= limit {
				return
			}
		}
		t.Errorf("alipay p99 with tenpay saturated stayed above 2x its idle p99 in three attempts")
	})
}

// saturate holds tenpay's account lock, fills tenpay's slots and keeps knocking while
// measure runs; it returns measure's result and how many requests were shed (quickly).
func saturate(t *testing.T, w *world, attempt int, measure func() time.Duration) (time.Duration, int64, int64) {
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET version = version + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	var busy, shedFast atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Four requests fill tenpay's four slots; two more keep knocking and are shed.
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r, err := w.client.Pay(ctx, pay(fmt.Sprintf("sat-%d-%d-%d", attempt, g, i), Credit, SeedAgreementID(1), 1, "tenpay"))
				if err == nil && r.Status == 503 && r.RetryAfter != "" {
					busy.Add(1)
					if time.Since(start) < 500*time.Millisecond {
						shedFast.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	loaded := measure()
	close(stop)
	tx.Rollback()
	wg.Wait()
	return loaded, busy.Load(), shedFast.Load()
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	cases := []struct {
		body string
		mode os.FileMode
		want string
	}{
		{"dsn: postgres://u@h/db\nmerchants: [{id: m, key: 0123456789abcdef}]\n", 0o644, "readable by others"},
		{"dsn: postgres://u@h/db\nlisten: x\nport: 1\n", 0o600, "field port not found"},
		{"merchants: [{id: m, key: 0123456789abcdef}]\n", 0o600, "dsn: missing"},
		{"dsn: postgres://u@h/db\n", 0o600, "merchants: none"},
		{"dsn: postgres://u@h/db\nmerchants: [{id: m, key: short}]\n", 0o600, "merchants[0].key"},
		{"dsn: postgres://u@h/db\nmerchants: [{id: m, key_env: XC_NO_SUCH_VAR_1}]\n", 0o600, "merchants[0].key_env: environment variable XC_NO_SUCH_VAR_1"},
		{"dsn: postgres://u@h/db\nmerchants: [{id: m, key: 0123456789abcdef}]\nchannels: [{name: Ten Pay}]\n", 0o600, "channels[0].name"},
		{"dsn: postgres://u@h/db\nmerchants: [{id: m, key: 0123456789abcdef}]\nshutdown_timeout: soon\n", 0o600, "shutdown_timeout"},
	}
	for i, c := range cases {
		_, err := LoadConfig(write(fmt.Sprintf("c%d.yaml", i), c.body, c.mode))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: %v, want %q", i, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("case %d: error shows the key: %v", i, err)
		}
	}
	ok := write("ok.yaml", "dsn: postgres://u@h/db\nmerchants: [{id: m, key: 0123456789abcdef}]\n", 0o600)
	c, err := LoadConfig(ok)
	if err != nil || len(c.Channels) != 3 || c.Listen == "" {
		t.Errorf("defaults: %v %+v", err, c)
	}
}
