package cdc_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
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

// TestKill9UnderLoad kills `xckit cdc run` with SIGKILL at 20 random moments while
// payd takes payments on the source, restarting it each time, for each reader (the
// SQL peek and the replication stream; the apply sends its statements together).
// Afterwards verify, and an independent comparison by each engine's own SQL, must
// find no difference: nothing lost, and no flow applied twice (a balance moved twice
// would differ).
func TestKill9UnderLoad(t *testing.T) {
	for _, reader := range []string{cdc.ReaderSQL, cdc.ReaderStream} {
		t.Run(reader, func(t *testing.T) { kill9UnderLoad(t, reader) })
	}
}

func kill9UnderLoad(t *testing.T, reader string) {
	p := newPair(t, "legacy")
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
	if _, err := cdc.Copy(ctx, cdc.CopyOptions{From: p.src, To: p.dst}); err != nil {
		t.Fatal(err)
	}
	slot := slotName(t)
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot}); err != nil {
		t.Fatal(err)
	}

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

	// Load: 4 workers, about 300 payments/s, until stopped.
	stop := make(chan struct{})
	var sent, okCount atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
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
				r, err := client.Pay(ctx, platform.PaymentRequest{ReqID: fmt.Sprintf("k9-%d-%d", w, i), Type: typ,
					AgreementID: platform.SeedAgreementID(acct), Amount: int64(rand.IntN(900) + 1), Currency: "CNY", Channel: platform.SeedChannel(channels, acct)})
				sent.Add(1)
				if err == nil && r.Status == 200 {
					okCount.Add(1)
				}
			}
		}()
	}
	run := func(extra ...string) *exec.Cmd {
		args := append([]string{"cdc", "run", "--source", p.srcDSN, "--target", p.dstDSN, "--slot", slot, "--batch", "200", "--reader", reader, "--log-level", "warn"}, extra...)
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for k := 0; k < 20; k++ {
		cmd := run()
		time.Sleep(time.Duration(150+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	close(stop)
	wg.Wait()
	// A last run catches up; SIGTERM then finishes its batch and exits 0. Its metrics
	// answering shows it is up (signal handling is installed before that).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := run("--metrics-addr", addr)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, err := http.Get("http://" + addr + "/metrics"); err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cdc run did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lsn, err := cdc.CurrentLSN(ctx, p.src)
	if err != nil {
		t.Fatal(err)
	}
	if err := cdc.WaitApplied(ctx, p.dst, slot, lsn, time.Until(deadline)); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("cdc run after SIGTERM: %v, want exit 0", err)
	}
	rep, err := cdc.Verify(ctx, cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ pg, my string }{
		{"SELECT concat_ws('|', req_id, account_id, type, amount, status) FROM payments", "SELECT CONCAT_WS('|', req_id, account_id, type, amount, status) FROM payments"},
		{"SELECT concat_ws('|', id, balance, version) FROM accounts", "SELECT CONCAT_WS('|', id, balance, version) FROM accounts"},
	} {
		compareDumps(t, q.my, dump(t, p.src, q.pg), dump(t, p.dst, q.my))
	}
	t.Logf("%s reader: %d payments sent (%d ok) across 20 kills; verify: %+v", reader, sent.Load(), okCount.Load(), rep.Tables)
	if okCount.Load() < 100 || !rep.Equal() {
		t.Errorf("after 20 kills: ok=%d verify equal=%v: %+v", okCount.Load(), rep.Equal(), rep.Tables)
	}
}
