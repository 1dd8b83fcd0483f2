package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
	"github.com/xckit/xckit/platform"
)

var paydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "payd-bin-")
	if err != nil {
		panic(err)
	}
	paydBin = filepath.Join(dir, "payd")
	if out, err := exec.Command("go", "build", "-o", paydBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build payd: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const key = "k-crash-0123456789abcdef"

func writeConfig(t *testing.T, dsn, listen string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "payd.yaml")
	cfg := fmt.Sprintf("listen: %s\ndsn: %s\nshutdown_timeout: 10s\nmerchants:\n  - id: m1\n    key: %s\n", listen, dsn, key)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startPayd(t *testing.T, cfg, listen string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(paydBin, "--config", cfg, "--log-level", "warn")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get("http://" + listen + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("payd did not become ready: %s", errb.String())
	return nil
}

func runPayd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(paydBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestKill9DuringLoad kills payd with SIGKILL in the middle of a load, restarts it,
// and checks that every req_id that got 200 is stored exactly once and that retrying
// every request changes nothing.
func TestKill9DuringLoad(t *testing.T) {
	env := labtest.Ensure(t)
	for _, engine := range []string{labtest.Gauss, labtest.Legacy} {
		t.Run(engine, func(t *testing.T) {
			dsn := labtest.FreshDatabase(t, env, engine, labtest.DatabaseName("payd", t))
			listen := freePort(t)
			cfg := writeConfig(t, dsn, listen)
			if code, out := runPayd(t, "--config", cfg, "migrate"); code != 0 {
				t.Fatalf("migrate: %d %s", code, out)
			}
			if code, out := runPayd(t, "--config", cfg, "seed", "--accounts", "50", "--balance", "1000000"); code != 0 {
				t.Fatalf("seed: %d %s", code, out)
			}
			cmd := startPayd(t, cfg, listen)
			client := &platform.Client{BaseURL: "http://" + listen, Merchant: "m1", Key: key, HTTP: &http.Client{Timeout: 5 * time.Second}}
			channels := []string{"tenpay", "alipay", "other"}
			req := func(i int) platform.PaymentRequest {
				acct := i%50 + 1
				typ := platform.Debit
				if i%4 == 0 {
					typ = platform.Credit
				}
				return platform.PaymentRequest{ReqID: fmt.Sprintf("k-%d", i), Type: typ, AgreementID: platform.SeedAgreementID(acct),
					Amount: int64(100 + i%700), Currency: "CNY", Channel: platform.SeedChannel(channels, acct)}
			}
			var mu sync.Mutex
			ok := map[int]string{} // req index -> body of the 200 answer
			sent := 0
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			next := make(chan int)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						r, err := client.Pay(ctx, req(i))
						if err == nil && r.Status == 200 {
							mu.Lock()
							ok[i] = string(r.Body)
							mu.Unlock()
						}
					}
				}()
			}
			killAt := time.Now().Add(400 * time.Millisecond)
			killed := false
			for i := 0; i < 4000 && ctx.Err() == nil; i++ {
				if !killed && time.Now().After(killAt) {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				}
				next <- i
				sent = i + 1
				if killed && time.Now().After(killAt.Add(100*time.Millisecond)) {
					break
				}
			}
			close(next)
			wg.Wait()
			cmd.Wait()
			if len(ok) == 0 || len(ok) == sent {
				t.Fatalf("the kill must land mid-load: %d of %d acknowledged", len(ok), sent)
			}
			t.Logf("%s: %d requests sent, %d acknowledged before and around the kill", engine, sent, len(ok))

			startPayd(t, cfg, listen)
			db, err := dbx.Open(context.Background(), dsn, dbx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i, body := range ok {
				var n int
				db.QueryRow("SELECT count(*) FROM payments WHERE req_id = "+db.Dialect.Placeholder(1), req(i).ReqID).Scan(&n)
				if n != 1 {
					t.Errorf("acknowledged %s stored %d times", req(i).ReqID, n)
				}
				_ = body
			}
			sum := func() (total int64) {
				db.QueryRow("SELECT SUM(balance) FROM accounts").Scan(&total)
				return
			}
			before := sum()
			// Retry everything that was sent: acknowledged ones replay their answer, the
			// rest apply now, once.
			for i := 0; i < sent; i++ {
				r, err := client.Pay(context.Background(), req(i))
				if err != nil || (r.Status != 200 && r.Status != 422) {
					t.Fatalf("retry %d: %v %+v", i, err, r)
				}
				if body, was := ok[i]; was && (string(r.Body) != body || !r.Replay) {
					t.Errorf("retry of acknowledged %d changed its answer:\n%s\n%s", i, body, r.Body)
				}
			}
			after := sum()
			for i := 0; i < sent; i++ {
				client.Pay(context.Background(), req(i))
			}
			if again := sum(); again != after {
				t.Errorf("a second full retry moved money: %d -> %d", after, again)
			}
			var flows int64
			db.QueryRow(`SELECT COALESCE(SUM(CASE WHEN type = 'credit' THEN amount ELSE -amount END), 0) FROM payments WHERE status = 'succeeded'`).Scan(&flows)
			if after != 50*1000000+flows {
				t.Errorf("balances %d != initial %d + flows %d", after, 50*1000000, flows)
			}
			_ = before
		})
	}
}

func TestSIGTERMFinishesAndExitsZero(t *testing.T) {
	env := labtest.Ensure(t)
	dsn := labtest.FreshDatabase(t, env, labtest.Gauss, labtest.DatabaseName("payd", t))
	listen := freePort(t)
	cfg := writeConfig(t, dsn, listen)
	runPayd(t, "--config", cfg, "migrate")
	cmd := startPayd(t, cfg, listen)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("payd after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("payd did not stop within 15s of SIGTERM")
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("dsn: postgres://u:pw@127.0.0.1:1/x\nmerchants:\n  - id: m1\n    key: 0123456789abcdef\nchannels:\n  - name: tenpay\n    max_concurency: 5\n"), 0o600)
	code, out := runPayd(t, "--config", bad)
	if code != 2 || !strings.Contains(out, "line 7") || !strings.Contains(out, "max_concurency") {
		t.Errorf("exit %d: %s", code, out)
	}
	code, out = runPayd(t)
	if code != 2 || !strings.Contains(out, "--config") {
		t.Errorf("no config: exit %d: %s", code, out)
	}
	code, out = runPayd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "payd ") {
		t.Errorf("version: %d %s", code, out)
	}
}
