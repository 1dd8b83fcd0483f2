package cutover

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/lab"
	"github.com/xckit/xckit/platform"
)

// TestModelRunbooks is the model-based test of the runbooks (Jepsen's way): random
// sequences of cutover, rollback, the same command again, --resume, kill -9 at random
// moments and lab up, under a steady payment load through the balancer. After every
// operation an outside observer (the balancer's own route answer, each side's
// /readyz, the app role's read-only setting, and both databases read directly — never
// the runbook's journal) checks the invariants:
//   - never two live sides: both payds answering while the new side's role can write;
//   - the routed side is live;
//   - every payment acknowledged with 200 is stored on the routed side;
//   - on the routed side every account's balance is its starting balance plus the
//     payments stored there: nothing was spent twice, nothing applied twice.
//
// XCKIT_MODEL_OPS (default 200) and XCKIT_MODEL_BUDGET (default 120s) bound it;
// XCKIT_MODEL_SEED replays a sequence. make bench-model runs a longer one.
func TestModelRunbooks(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lab of its own, random runbook sequences under load")
	}
	ops := envInt("XCKIT_MODEL_OPS", 200)
	budget := envDuration(t, "XCKIT_MODEL_BUDGET", 120*time.Second)
	seed := uint64(envInt("XCKIT_MODEL_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("seed %d (XCKIT_MODEL_SEED=%d replays this sequence of operations)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	m := newModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first cutover, before the load: legacy live -> new live.
	if out, err := m.xckit(ctx, "cutover", false, 0); err != nil {
		t.Fatalf("first cutover: %v\n%s", err, out)
	}
	m.check(t, "first cutover")
	loadDone := m.load(ctx)

	deadline := time.Now().Add(budget)
	var done int
	lastKilled := ""
	for done = 0; done < ops && time.Now().Before(deadline); done++ {
		var what string
		switch r := rng.IntN(100); {
		case r < 8:
			what, lastKilled = "lab up", ""
			if _, err := lab.Up(ctx, m.labOpts); err != nil {
				t.Fatalf("op %d lab up: %v", done, err)
			}
		case lastKilled != "" && r < 50:
			what = lastKilled + " --resume"
			lastKilled = m.run(ctx, rng, lastKilled, true)
		default:
			kind := []string{"cutover", "rollback"}[rng.IntN(2)]
			what = kind
			lastKilled = m.run(ctx, rng, kind, false)
		}
		if lastKilled != "" {
			what += " (killed)"
		}
		m.check(t, fmt.Sprintf("op %d: %s", done, what))
		if t.Failed() {
			break
		}
	}
	// Settle: finish whatever was interrupted, then the final check.
	for _, kind := range []string{"rollback", "cutover", "rollback"} {
		if route, _ := m.route(); route != SideNone {
			break
		}
		m.xckit(ctx, kind, true, 0)
	}
	cancel()
	acked, failed := loadDone()
	m.check(t, "the end")
	t.Logf("%d operations in %s; load: %d payments acknowledged, %d not (refused while drained, retried)", done, budget-time.Until(deadline), acked, failed)
	if acked < 100 {
		t.Errorf("only %d payments were acknowledged: the load did not run", acked)
	}
}

type model struct {
	t       *testing.T
	dir     string
	bin     string
	site    *Site
	labOpts lab.Options
	legacy  *dbx.DB
	newAdm  *dbx.DB // the platform's database on the new side, as the administrator
	client  *platform.Client
	start   map[int64]int64 // account -> balance before the load

	mu    sync.Mutex
	acked map[string]ack
}

type ack struct {
	account int64
	delta   int64
}

const modelAccounts = 30 // accounts 11..40 (the smoke tests use account 1)

func newModel(t *testing.T) *model {
	w := newStoryLab(t, "xckit-model-", 19532, 19406, 19100)
	env, site := w.env, w.site
	m := &model{t: t, dir: w.opts.Dir, bin: w.xckit, labOpts: w.opts, site: site, acked: map[string]ack{}}
	ctx := context.Background()
	var err error
	if m.legacy, err = dbx.Open(ctx, env.LegacyDSN, dbx.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.legacy.Close() })
	if m.newAdm, err = dbx.Open(ctx, strings.TrimSuffix(env.GaussAdminDSN, "/postgres")+site.New.DB[strings.LastIndex(site.New.DB, "/"):], dbx.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.newAdm.Close() })
	m.client = &platform.Client{BaseURL: env.LBURL, Merchant: env.MerchantID, Key: env.MerchantKey, HTTP: &http.Client{Timeout: 5 * time.Second}}
	m.start = balances(t, m.legacy)
	return m
}

// xckit runs `xckit <kind> --yes` (with --resume), killing it with SIGKILL after
// killAfter when that is positive. It returns the output and the error (killed: nil).
func (m *model) xckit(ctx context.Context, kind string, resume bool, killAfter time.Duration) (string, error) {
	args := []string{kind, "--site", lab.SiteFile(m.dir), "--yes", "--log-level", "warn"}
	if kind == "cutover" {
		args = append(args, "--skip-acceptance")
	}
	if resume {
		args = append(args, "--resume")
	}
	cmd := exec.CommandContext(ctx, m.bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() {
		// What the killed command had started may still be on its way (a payd, the
		// legacy application): let it arrive before the observer looks.
		time.Sleep(time.Second)
		return out.String(), nil
	}
	return out.String(), err
}

// run runs one command, killed at a random moment three times in ten; it returns the
// kind when the command was killed ("" otherwise).
func (m *model) run(ctx context.Context, rng *rand.Rand, kind string, resume bool) string {
	var kill time.Duration
	if rng.IntN(10) < 3 {
		kill = time.Duration(50+rng.IntN(1500)) * time.Millisecond
	}
	out, err := m.xckit(ctx, kind, resume, kill)
	m.t.Logf("%s resume=%v kill=%v: err=%v; %s", kind, resume, kill, err, lastLines(out, 2))
	if kill > 0 && err == nil && !strings.Contains(out, "complete") && !strings.Contains(out, "nothing to do") {
		return kind
	}
	// An operator reads what the command says: it names the run to resume.
	for _, k := range []string{"rollback", "cutover"} {
		if strings.Contains(out, "the last "+k+" stopped") || strings.Contains(out, "xckit "+k+" --resume") {
			return k
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// load sends payments through the balancer at 40/s until ctx ends; a payment that
// got no definite answer is retried with the same req_id (as clients do). It returns
// a func that waits for the load to end and says how many were acknowledged.
func (m *model) load(ctx context.Context) func() (int, int) {
	done := make(chan struct{})
	var failed int
	go func() {
		defer close(done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var retry []platform.PaymentRequest
		for n := 0; n < 100_000; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var req platform.PaymentRequest
			if len(retry) > 0 && n%2 == 0 {
				req, retry = retry[0], retry[1:]
			} else {
				acct := 11 + n%modelAccounts
				typ := []string{platform.Debit, platform.Credit}[n%3/2]
				req = platform.PaymentRequest{ReqID: fmt.Sprintf("model-%d", n), Type: typ, AgreementID: platform.SeedAgreementID(acct),
					Amount: int64(1 + n%97), Currency: "CNY", Channel: []string{"tenpay", "alipay", "other"}[(acct-1)%3]}
			}
			r, err := m.client.Pay(ctx, req)
			switch {
			case err == nil && r.Status == 200:
				var p platform.Payment
				r.Decode(&p)
				d := req.Amount
				if req.Type == platform.Debit {
					d = -d
				}
				m.mu.Lock()
				m.acked[req.ReqID] = ack{account: p.AccountID, delta: d}
				m.mu.Unlock()
			case ctx.Err() != nil:
				return
			default:
				failed++
				if len(retry) < 1000 {
					retry = append(retry, req)
				}
			}
		}
	}()
	return func() (int, int) {
		<-done
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.acked), failed
	}
}

// route asks the balancer itself where it sends traffic.
func (m *model) route() (Side, error) {
	resp, err := http.Get(m.site.Switch.Nginx.SideURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return Side(strings.TrimSpace(b.String())), nil
}

// check reads the world from outside and asserts the invariants.
func (m *model) check(t *testing.T, after string) {
	t.Helper()
	ctx := context.Background()
	m.mu.Lock()
	acked := make(map[string]ack, len(m.acked))
	for k, v := range m.acked {
		acked[k] = v
	}
	m.mu.Unlock()
	route, err := m.route()
	if err != nil {
		t.Fatalf("after %s: the balancer does not answer: %v", after, err)
	}
	legacyUp := answers(ctx, m.site.Legacy.Ready)
	newUp := answers(ctx, "http://"+m.site.New.Listen+"/readyz")
	newWritable := false
	if db, err := dbx.Open(ctx, m.site.New.DB, dbx.Options{}); err == nil {
		var ro string
		db.QueryRowContext(ctx, "SHOW default_transaction_read_only").Scan(&ro)
		newWritable = ro == "off"
		db.Close()
	}
	state := fmt.Sprintf("route %s, legacy up %v, new up %v, new writable %v", route, legacyUp, newUp, newWritable)
	if legacyUp && newUp && newWritable {
		t.Errorf("after %s: two live sides: %s", after, state)
	}
	var live *dbx.DB
	switch route {
	case SideLegacy:
		live = m.legacy
		if !legacyUp {
			t.Errorf("after %s: the balancer routes to legacy, which is down: %s", after, state)
		}
	case SideNew:
		live = m.newAdm
		if !newUp || !newWritable {
			t.Errorf("after %s: the balancer routes to new, which is not live: %s", after, state)
		}
	case SideNone:
		t.Logf("after %s: drained (%s)", after, state)
		return
	default:
		t.Fatalf("after %s: the balancer answers %q", after, route)
	}
	// One snapshot for the payments and the balances: the load keeps writing.
	tx, err := live.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	stored := map[string]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT req_id FROM payments WHERE req_id LIKE 'model-%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	missing := 0
	for id := range acked {
		if !stored[id] {
			if missing++; missing <= 5 {
				t.Errorf("after %s: payment %s was acknowledged with 200 but is not on the live side (%s)", after, id, route)
			}
		}
	}
	// The ledger of the live side: starting balance plus what it stored.
	sums := map[int64]int64{}
	rows, err = tx.QueryContext(ctx, "SELECT account_id, type, amount FROM payments WHERE req_id LIKE 'model-%' AND status = 'succeeded'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var acct, amount int64
		var typ string
		rows.Scan(&acct, &typ, &amount)
		if typ == platform.Debit {
			amount = -amount
		}
		sums[acct] += amount
	}
	rows.Close()
	now := balances(t, tx)
	for acct, b0 := range m.start {
		if got, want := now[acct], b0+sums[acct]; got != want {
			t.Errorf("after %s: account %d on %s holds %d, its payments say %d (spent or applied twice)", after, acct, route, got, want)
		}
	}
	t.Logf("after %s: %s; %d acknowledged, all on %s", after, state, len(acked), route)
}

func balances(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	rows, err := db.QueryContext(context.Background(), fmt.Sprintf("SELECT id, balance FROM accounts WHERE id BETWEEN 11 AND %d", 10+modelAccounts))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, b int64
		if err := rows.Scan(&id, &b); err != nil {
			t.Fatal(err)
		}
		out[id] = b
	}
	return out
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}
