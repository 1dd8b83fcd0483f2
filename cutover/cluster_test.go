package cutover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/lab"
	"github.com/xckit/xckit/platform"
)

// TestClusterFailoverUnderLoadAndRollback: the new side is a primary with a streaming
// standby (its own lab, ports 19632..; the standby's front on 19634) and every gauss
// DSN of the site names both. A rollback proves the fence on both nodes and lists
// them. Then, during hot standby under 300 payments/s, the primary stops and the
// standby is promoted: payd follows it through the cluster DSN, the reverse CDC stops
// loudly with the gap named (PostgreSQL 15 keeps the logical slot on the old primary
// only), and the runbook's repair (docs/rollback.md, "The primary changed") brings
// legacy equal, checked by plain queries. The old primary started again beside the
// new one is a second primary: the rollback's fence proof refuses it, then refuses
// the node it cannot reach, and succeeds once the site names the live node only.
func TestClusterFailoverUnderLoadAndRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lab of its own with a standby, cutover, failover under load, rollback")
	}
	sl := newStoryLabWith(t, "xckit-cluster-", lab.Options{GaussPort: 19632, LegacyPort: 19606, LBPort: 19600, GaussStandbys: 1})
	site, env := sl.site, sl.env
	ctx := context.Background()
	const first, second = "127.0.0.1:19632", "127.0.0.1:19634"
	for _, dsn := range []string{site.New.DB, site.New.AdminDB, site.New.CDCSource} {
		if d, err := dbx.ParseDSN(dsn); err != nil || len(d.Endpoints()) != 2 {
			t.Fatalf("the lab's site should name both nodes: %s %v", dbx.Redact(dsn), err)
		}
	}
	var out bytes.Buffer
	opts := Options{Site: site, Profile: sl.prof, XckitBin: sl.xckit, Out: &out, SkipAcceptance: true}
	cutoverOK := func(what string) {
		t.Helper()
		out.Reset()
		if rep, err := Cutover(ctx, opts); err != nil || rep.Verdict != "ok" {
			t.Fatalf("%s: %v\n%s", what, err, out.String())
		}
	}
	cutoverOK("cutover on the cluster")

	// A rollback on the cluster: the fence is set on the primary and proven on both.
	out.Reset()
	rep, err := Rollback(ctx, opts)
	if err != nil || rep.Verdict != "ok" {
		t.Fatalf("rollback on the cluster: %v\n%s", err, out.String())
	}
	if got := fmt.Sprint(rep.Nodes); got != "["+first+" primary "+second+" standby]" {
		t.Errorf("the rollback report lists %s, want both nodes and their roles", got)
	}
	if !strings.Contains(out.String(), "writes refused on 2 nodes") {
		t.Errorf("the fence step should say where writes are refused:\n%s", out.String())
	}
	// Through the cluster DSN the fenced role reaches no node at all, and is told why.
	if _, err := dbx.Open(ctx, site.New.DB, dbx.Options{}); err == nil || !strings.Contains(err.Error(), "the role is read-only, as the rollback's fence makes it") {
		t.Errorf("the fenced role through the cluster DSN: %v", err)
	}
	cutoverOK("cutover again")
	src, legacy := openSide(t, site.New.CDCSource), openSide(t, site.Legacy.ReverseTarget())
	if lsn, err := cdc.CurrentLSN(ctx, src); err != nil {
		t.Fatal(err)
	} else if err := cdc.WaitApplied(ctx, legacy, site.CDC.Slot, lsn, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	assertSidesEqual(t, legacy, src, false)

	// Hot standby under 300 payments/s through the balancer; the primary fails.
	client, w, loadDone := startLoad(env, "fo", 300, 16*time.Second)
	time.Sleep(3 * time.Second)
	if err := lab.Down(ctx, lab.Options{Dir: sl.opts.Dir, Parts: []string{"gauss"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := lab.Promote(ctx, sl.opts, 1); err != nil {
		t.Fatal(err)
	}
	// The reverse CDC stops loudly, naming the node and the window, and says what to do.
	cdcLog := filepath.Join(site.New.Prefix, "log", "cdc.log")
	for deadline := time.Now().Add(60 * time.Second); livePid(CDCPidFile(site)) != 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("cdc run still runs a minute after the failover")
		}
	}
	logText, _ := os.ReadFile(cdcLog)
	for _, want := range []string{"missing on " + second, "cdc init --after-failover", "verify --repair --yes --since"} {
		if !bytes.Contains(logText, []byte(want)) {
			t.Errorf("cdc run's stop should say %q:\n%s", want, tail(logText, 1500))
		}
	}
	var gap *cdc.GapError
	if _, err := cdc.GetStatus(ctx, src, legacy, site.CDC.Slot); !errors.As(err, &gap) {
		t.Fatalf("cdc status after the failover should name the gap: %v", err)
	}
	// Nothing reported applied that legacy lacks: legacy's checkpoint is where the stop
	// says legacy had everything, and every payment it names as applied is there.
	if cp, _, err := cdc.NewSink(legacy, site.CDC.Slot).Checkpoint(ctx); err != nil || cp.LSN != gap.Applied {
		t.Errorf("legacy's checkpoint %v (%v) differs from the gap's start %s", cp.LSN, err, gap.Applied)
	}

	// The runbook, while payments go on: a slot on the new primary first (the window
	// ends there; what follows is the stream's) ...
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(sl.xckit, args...)
		cmd.Env = append(os.Environ(), "XCKIT_CDC_SOURCE="+site.New.CDCSource, "XCKIT_CDC_TARGET="+site.Legacy.ReverseTarget())
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("xckit %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	initOut := cli("cdc", "init", "--after-failover", "--slot", site.CDC.Slot)
	m := regexp.MustCompile(`GAP: .* on ` + regexp.QuoteMeta(second) + `[\s\S]*--since (\S+)`).FindStringSubmatch(initOut)
	if m == nil {
		t.Fatalf("cdc init --after-failover should name the gap on %s and the --since for the repair:\n%s", second, initOut)
	}
	sum := <-loadDone
	t.Logf("failover under %.0f payments/s: %d ok, %d failed %v", sum.TargetRate, sum.OK, sum.Failed, sum.Errors)
	// ... then the repair of the window (the load has ended: see docs/rollback.md), and
	// the stream, which carries everything after the new slot.
	repaired := strings.Split(strings.TrimSpace(cli("verify", "--repair", "--yes", "--since", m[1])), "\n")
	t.Logf("repair, after: %s", strings.Join(repaired[max(0, len(repaired)-5):], "\n"))
	if _, err := startStream(ctx, &op{Options: opts}, reverseStream(site)); err != nil {
		t.Fatal(err)
	}
	lsn, err := cdc.CurrentLSN(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := cdc.WaitApplied(ctx, legacy, site.CDC.Slot, lsn, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if missing := notOnce(t, legacy, w.acked()); missing > 0 || len(w.acked()) < 1500 {
		t.Errorf("%d of %d payments acknowledged across the failover are not in legacy once", missing, len(w.acked()))
	}
	assertSidesEqual(t, legacy, src, false)

	// The old primary starts again beside the promoted one: two nodes take writes. The
	// rollback's fence is set on one; the proof finds the other and refuses.
	// (The stream stops first: reconnecting through the cluster DSN it could reach the
	// old primary's slot, the case docs/cdc.md "Not yet" leaves open.)
	if _, err := stopStream(ctx, &op{Options: opts}, reverseStream(site)); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Up(ctx, lab.Options{Dir: sl.opts.Dir, Parts: []string{"gauss"}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rep, err := Rollback(ctx, opts); err == nil || rep.Verdict != "aborted" || !strings.Contains(err.Error(), "accepts writes from role") {
		t.Fatalf("a rollback beside two primaries must stop at the fence naming the node that takes writes: %v %s\n%s", err, rep.Verdict, out.String())
	}
	// Down for good: a node the kit cannot reach is not proven either.
	if err := lab.Down(ctx, lab.Options{Dir: sl.opts.Dir, Parts: []string{"gauss"}}, false); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rep, err := Rollback(ctx, opts); err == nil || rep.Verdict != "aborted" || !strings.Contains(err.Error(), "node "+first+" cannot be reached") {
		t.Fatalf("a rollback with a node down must name it: %v %s\n%s", err, rep.Verdict, out.String())
	}
	// The site names the live node only (the runbook's step): the rollback completes,
	// nothing lost.
	for _, dsn := range []*string{&site.New.DB, &site.New.AdminDB, &site.New.CDCSource} {
		*dsn = strings.Replace(*dsn, first+",", "", 1)
	}
	if _, err := client.Pay(ctx, platform.PaymentRequest{ReqID: "fo-before-rollback", Type: platform.Credit, AgreementID: "ag-seed-3", Amount: 5, Currency: "CNY", Channel: "other"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	rep, err = Rollback(ctx, opts)
	if err != nil || rep.Verdict != "ok" || !strings.HasPrefix(rep.RPO, "0:") || fmt.Sprint(rep.Nodes) != "["+second+" primary]" {
		t.Fatalf("rollback on the promoted node: %v %+v\n%s", err, rep, out.String())
	}
	var n int
	if legacy.QueryRow("SELECT count(*) FROM payments WHERE req_id = 'fo-before-rollback'").Scan(&n); n != 1 {
		t.Errorf("the payment taken just before the rollback is not in legacy")
	}
	// (Legacy is live now: its rollback's smoke, a debit and a credit of 1 fen, is its own.)
	assertSidesEqual(t, legacy, src, true)
}

// openSide opens a DSN for the test, closed at its end.
func openSide(t *testing.T, dsn string) *dbx.DB {
	t.Helper()
	db, err := dbx.Open(context.Background(), dsn, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// startLoad sends payments through the lab's balancer at rate for d, remembering each
// acknowledged req_id; the summary arrives when it ends.
func startLoad(env lab.Env, runID string, rate float64, d time.Duration) (*platform.Client, *ackWorkload, chan *bench.Summary) {
	client := &platform.Client{BaseURL: env.LBURL, Merchant: env.MerchantID, Key: env.MerchantKey, HTTP: &http.Client{Timeout: 10 * time.Second}}
	w := &ackWorkload{PaymentWorkload: bench.PaymentWorkload{Client: client, Accounts: 1000, Channels: []string{"tenpay", "alipay", "other"}, DebitPct: 50, RunID: runID}}
	done := make(chan *bench.Summary, 1)
	go func() {
		s, _ := bench.Run(context.Background(), w, bench.Options{Rate: rate, Duration: d})
		done <- s
	}()
	return client, w, done
}

// notOnce counts the payments (req_ids) a database does not hold exactly once.
func notOnce(t *testing.T, db *dbx.DB, ids []string) int {
	t.Helper()
	q := "SELECT count(*) FROM payments WHERE req_id = " + db.Dialect.Placeholder(1)
	missing := 0
	for _, id := range ids {
		var n int
		if err := db.QueryRow(q, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			missing++
		}
	}
	return missing
}

// assertSidesEqual compares payments and accounts on both sides by plain queries;
// after a rollback, without the rollback's smoke (legacy's own payments since).
func assertSidesEqual(t *testing.T, legacy, gauss *dbx.DB, afterRollback bool) {
	t.Helper()
	ctx := context.Background()
	payments, accounts := "", "version"
	if afterRollback {
		payments, accounts = " WHERE req_id NOT LIKE 'xckit-rollback-smoke-%'", "'-'"
	}
	for _, q := range []struct{ my, pg string }{
		{"SELECT CONCAT_WS('|', req_id, account_id, amount, status) FROM payments" + payments, "SELECT concat_ws('|', req_id, account_id, amount, status) FROM payments" + payments},
		{"SELECT CONCAT_WS('|', id, balance, " + accounts + ") FROM accounts", "SELECT concat_ws('|', id, balance, " + accounts + ") FROM accounts"},
	} {
		l, err := legacy.Strings(ctx, q.my)
		if err != nil {
			t.Fatal(err)
		}
		g, err := gauss.Strings(ctx, q.pg)
		if err != nil {
			t.Fatal(err)
		}
		if d := setDiff(l, g); d != "" {
			t.Errorf("%s: %s", q.pg, d)
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
