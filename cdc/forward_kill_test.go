package cdc_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/platform"
)

// TestForwardKill9UnderLoad: payd takes payments on the legacy side throughout. The
// online copy (`xckit cdc copy --online`) is killed with SIGKILL 5 times mid-table and
// run again until it finishes; then `xckit cdc run` (forward) is killed 20 times at
// random moments and restarted. A last run catches up, and an independent comparison
// (each engine's own SQL, not xckit verify) finds both sides equal: nothing lost, no
// payment or balance change applied twice.
func TestForwardKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: kill -9 of the online copy and of forward CDC under load")
	}
	p := newForwardPair(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "xckit")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/xckit").CombinedOutput(); err != nil {
		t.Fatalf("build xckit: %v %s", err, out)
	}
	if _, err := platform.Migrate(ctx, p.src); err != nil {
		t.Fatal(err)
	}
	if _, err := platform.Migrate(ctx, p.dst); err != nil {
		t.Fatal(err)
	}
	channels := []string{"tenpay", "alipay", "other"}
	if _, err := platform.Seed(ctx, p.src, platform.SeedOptions{Accounts: 200, Balance: 1_000_000, Merchant: "m", Channels: channels}); err != nil {
		t.Fatal(err)
	}
	// History: enough payments that the copy takes a while.
	execSQL(t, p.src, `INSERT INTO payments (req_id, merchant, type, agreement_id, account_id, channel, amount, currency, status, code, body_hash, created_at)
		SELECT CONCAT('h-', LPAD(seq, 8, '0')), 'm', 'credit', a.id, a.account_id, a.channel, seq % 1000, 'CNY', 'succeeded', 'OK', REPEAT('0', 64), NOW(6)
		FROM seq_1_to_800000 JOIN (SELECT * FROM agreements ORDER BY id LIMIT 1) a`)

	cfgFile := filepath.Join(t.TempDir(), "payd.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("dsn: %s\nmerchants: [{id: m, key: k-0123456789abcdef}]\n", p.srcDSN)), 0o600)
	cfg, err := platform.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := platform.NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	client := &platform.Client{BaseURL: hs.URL, Merchant: "m", Key: "k-0123456789abcdef", HTTP: &http.Client{Timeout: 10 * time.Second}}
	stop := make(chan struct{})
	var sent, okCount atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				case <-time.After(12 * time.Millisecond):
				}
				acct := rand.IntN(200) + 1
				typ := platform.Debit
				if i%3 == 0 {
					typ = platform.Credit
				}
				r, err := client.Pay(ctx, platform.PaymentRequest{ReqID: fmt.Sprintf("fk9-%d-%d", w, i), Type: typ,
					AgreementID: platform.SeedAgreementID(acct), Amount: int64(rand.IntN(900) + 1), Currency: "CNY", Channel: platform.SeedChannel(channels, acct)})
				sent.Add(1)
				if err == nil && r.Status == 200 {
					okCount.Add(1)
				}
			}
		}()
	}
	slot := slotName(t)
	xckit := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append(args, "--log-level", "warn")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	copyArgs := []string{"cdc", "copy", "--online", "--from", p.srcDSN, "--to", p.dstDSN, "--slot", slot, "--chunk", "2000"}
	kills := 0
	for attempt := 0; ; attempt++ {
		cmd := xckit(copyArgs...)
		if kills < 5 {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("the copy finished before kill %d (%v): make the history larger", kills+1, err)
			case <-time.After(time.Duration(150+rand.IntN(250)) * time.Millisecond):
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				continue
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the copy after %d kills: %v", kills, err)
		}
		break
	}
	if left, err := cdc.UnfinishedCopy(ctx, p.dst, slot); err != nil || left != "" {
		t.Fatalf("after the copy: unfinished %q %v", left, err)
	}
	runArgs := []string{"cdc", "run", "--source", p.srcDSN, "--target", p.dstDSN, "--slot", slot, "--batch", "200"}
	for k := 0; k < 20; k++ {
		cmd := xckit(runArgs...)
		time.Sleep(time.Duration(150+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	close(stop)
	wg.Wait()
	cmd := xckit(runArgs...)
	// A payment only this run can apply: once it is applied, the run is up and
	// handles SIGTERM (the killed runs may have applied everything before it).
	if r, err := client.Pay(ctx, platform.PaymentRequest{ReqID: "fk9-last", Type: platform.Debit,
		AgreementID: platform.SeedAgreementID(1), Amount: 1, Currency: "CNY", Channel: platform.SeedChannel(channels, 1)}); err != nil || r.Status != 200 {
		t.Fatalf("the last payment: %v %+v", err, r)
	}
	pos, err := cdc.SourcePosition(ctx, p.src)
	if err != nil {
		t.Fatal(err)
	}
	if err := cdc.WaitApplied(ctx, p.dst, slot, pos, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("cdc run after SIGTERM: %v, want exit 0", err)
	}
	for _, q := range []struct{ my, pg string }{
		{"SELECT CONCAT_WS('|', req_id, account_id, type, amount, status) FROM payments", "SELECT concat_ws('|', req_id, account_id, type, amount, status) FROM payments"},
		{"SELECT CONCAT_WS('|', id, balance, version) FROM accounts", "SELECT concat_ws('|', id, balance, version) FROM accounts"},
		{"SELECT CONCAT_WS('|', id, account_id, status) FROM agreements", "SELECT concat_ws('|', id, account_id, status) FROM agreements"},
	} {
		compareDumps(t, q.pg, dump(t, p.src, q.my), dump(t, p.dst, q.pg))
	}
	t.Logf("%d payments sent (%d ok) across %d kills of the copy and 20 of forward CDC", sent.Load(), okCount.Load(), kills)
	if okCount.Load() < 100 {
		t.Errorf("only %d payments succeeded", okCount.Load())
	}
}
