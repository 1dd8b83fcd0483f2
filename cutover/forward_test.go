package cutover

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
	"github.com/xckit/xckit/profiles"
)

// TestForwardCutoverUnderLoad: with cdc.forward the data goes over before the window.
// Under live payments through the balancer to legacy, cutover prepare copies legacy
// into openGauss online and starts forward CDC; the cutover then fences legacy, drains
// the forward stream and switches, with no copy in the window. Every payment either
// side acknowledged is on openGauss, once; a rollback restarts forward CDC from its
// own legacy position, and the next cutover needs no copy either.
func TestForwardCutoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lab of its own, install, prepare, cutover, rollback under load")
	}
	sl := newStoryLab(t, "xckit-forward-", 19732, 19706, 19700)
	site, env := sl.site, sl.env
	ctx := context.Background()
	var out bytes.Buffer
	site.CDC.Forward = true
	opts := Options{Site: site, Profile: sl.prof, XckitBin: sl.xckit, Out: &out, SkipAcceptance: true}
	t.Cleanup(func() { stopStream(context.Background(), &op{Options: opts}, forwardStream(site)) })

	// Without the forward stream the cutover's gate refuses, and nothing changes.
	if _, err := Cutover(ctx, opts); err == nil || !strings.Contains(err.Error(), "cutover prepare") {
		t.Fatalf("cutover before prepare: %v", err)
	}
	legacy, gauss := openSide(t, site.Legacy.BinlogSource()), openSide(t, site.New.AppAdminDB())
	// History on legacy: 60,000 more payments than the seed.
	if _, err := legacy.ExecContext(ctx, `INSERT INTO payments (req_id, merchant, type, agreement_id, account_id, channel, amount, currency, status, code, body_hash, created_at)
		SELECT CONCAT('hist-', seq), a.merchant, 'credit', a.id, a.account_id, a.channel, seq % 1000, 'CNY', 'succeeded', 'OK', REPEAT('0', 64), NOW(6) - INTERVAL seq SECOND
		FROM seq_1_to_60000 JOIN (SELECT * FROM agreements ORDER BY id LIMIT 1) a`); err != nil {
		t.Fatal(err)
	}
	client, w, loadDone := startLoad(env, "fw", 300, 15*time.Second)
	time.Sleep(time.Second)
	prep, err := Prepare(ctx, PrepareOptions{Site: site, XckitBin: sl.xckit, Out: &out})
	if err != nil || prep.Copy == nil || prep.Copy.Rows < 60000 {
		t.Fatalf("prepare: %+v %+v %v\n%s", prep, prep.Copy, err, out.String())
	}
	// Prepare again changes nothing: the stream runs.
	if again, err := Prepare(ctx, PrepareOptions{Site: site, XckitBin: sl.xckit, Out: &out}); err != nil || again.Copy != nil || !strings.Contains(again.Started, "already running") {
		t.Fatalf("prepare twice: %+v %v", again, err)
	}
	waitForwardCaughtUp(t, legacy, gauss, site.CDC.ForwardSlot, 30*time.Second)
	time.Sleep(2 * time.Second) // the cutover lands in the middle of the load
	out.Reset()
	rep, err := Cutover(ctx, opts)
	if err != nil || rep.Verdict != "ok" {
		t.Fatalf("forward cutover: %v\n%s", err, out.String())
	}
	sum := <-loadDone
	var steps []string
	for _, s := range rep.Window {
		steps = append(steps, s.Step)
	}
	t.Logf("forward cutover under %.0f payments/s: RTO %.2fs, window %v, forward lag at the fence %s; load %d ok, %d failed",
		sum.TargetRate, rep.RTOSeconds, rep.Window, rep.ForwardLag, sum.OK, sum.Failed)
	if got := strings.Join(steps, ","); !strings.Contains(got, "fence-legacy,fence-binlog,wait-forward,verify,stop-forward") || strings.Contains(got, "copy") {
		t.Errorf("window steps: %s", got)
	}
	if rep.ForwardLag == "" || rep.FenceLSN == "" {
		t.Errorf("report lacks the fence or the forward lag: %+v", rep)
	}
	// Every acknowledged payment is on openGauss (acknowledged by legacy before the
	// fence, or by the new side after the route), exactly once.
	if missing := notOnce(t, gauss, w.acked()); missing > 0 || len(w.acked()) < 1000 {
		t.Errorf("%d of %d acknowledged payments are not on openGauss", missing, len(w.acked()))
	}
	// The legacy application's user is fenced while openGauss is live.
	app, err := dbx.Open(ctx, site.Legacy.DB, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, "DELETE FROM payments WHERE 1 = 0"); err == nil {
		t.Error("the legacy application's user can write after the cutover")
	}

	// Roll back: reverse CDC brings the new side's payments to legacy, and forward CDC
	// starts again from the legacy position of that moment.
	// From here the verifies compare the rows changed lately and every table's
	// row count (counted alongside the compare).
	site.CDC.VerifySince = profiles.Duration(15 * time.Minute)
	out.Reset()
	rb, err := Rollback(ctx, opts)
	if err != nil || rb.Verdict != "ok" || !strings.HasPrefix(rb.RPO, "0:") {
		t.Fatalf("rollback: %v %+v\n%s", err, rb, out.String())
	}
	assertCountedVerify(t, rb.Steps)
	if livePid(ForwardPidFile(site)) == 0 {
		t.Fatal("the rollback did not start forward CDC again")
	}
	// (MySQL applies database privileges to a session at its next USE: a new one.)
	app.Close()
	if app, err = dbx.Open(ctx, site.Legacy.DB, dbx.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.ExecContext(ctx, "DELETE FROM payments WHERE 1 = 0"); err != nil {
		t.Errorf("the legacy application's user cannot write after the rollback: %v", err)
	}
	for i := 0; i < 20; i++ {
		// Each must be acknowledged (it used to go unchecked: a 503 from the balancer
		// or payd left one behind); 502/503 are asked again as a client would.
		req := platform.PaymentRequest{ReqID: fmt.Sprintf("legacy-after-rb-%d", i), Type: platform.Credit, AgreementID: "ag-seed-2", Amount: 5, Currency: "CNY", Channel: "alipay"}
		if tries, first, err := payUntilServed(ctx, client, req, 15*time.Second); err != nil {
			t.Fatalf("payment %s after the rollback: %v", req.ReqID, err)
		} else if tries > 1 {
			t.Logf("payment %s after the rollback took %d tries (first: %s)", req.ReqID, tries, first)
		}
	}
	out.Reset()
	rep, err = Cutover(ctx, opts)
	if err != nil || rep.Verdict != "ok" {
		t.Fatalf("cutover after the rollback: %v\n%s", err, out.String())
	}
	assertCountedVerify(t, rep.Steps)
	var n int
	if gauss.QueryRow("SELECT count(*) FROM payments WHERE req_id LIKE 'legacy-after-rb-%'").Scan(&n); n != 20 {
		t.Errorf("%d of the 20 payments legacy took after the rollback are on openGauss", n)
	}
	// Both sides equal at the end, by an independent comparison.
	src, err := dbx.Open(ctx, site.New.CDCSource, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	lsn, _ := cdc.CurrentLSN(ctx, src)
	if err := cdc.WaitApplied(ctx, legacy, site.CDC.Slot, lsn, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	assertSidesEqual(t, legacy, gauss, false)
}

// assertCountedVerify checks that the verify step compared the recent rows and the
// row counts of every table.
func assertCountedVerify(t *testing.T, steps []StepResult) {
	t.Helper()
	for _, s := range steps {
		if s.Name == "verify" {
			if !strings.Contains(s.Detail, "rows changed in the last 15m0s") || !strings.Contains(s.Detail, "row counts equal") {
				t.Errorf("verify step: %s", s.Detail)
			}
			t.Logf("verify step: %s", s.Detail)
			return
		}
	}
	t.Errorf("no verify step in %+v", steps)
}

// setDiff describes how two row sets differ ("" when equal).
func setDiff(a, b []string) string {
	in := map[string]int{}
	for _, r := range a {
		in[r]++
	}
	for _, r := range b {
		in[r]--
	}
	var out []string
	for r, n := range in {
		if n != 0 && len(out) < 5 {
			out = append(out, fmt.Sprintf("%s (%+d)", r, n))
		}
	}
	if len(a) != len(b) {
		out = append(out, fmt.Sprintf("%d rows vs %d", len(a), len(b)))
	}
	return strings.Join(out, "; ")
}

// waitForwardCaughtUp waits until forward CDC is past its online copy's catch-up
// point and within a megabyte of the legacy binary log.
func waitForwardCaughtUp(t testing.TB, legacy, gauss *dbx.DB, slot string, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; {
		st, err := cdc.GetStatus(context.Background(), legacy, gauss, slot)
		if err == nil && st.CatchUpLSN == "" && st.LagBytes < 1<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forward CDC did not catch up with the online copy: %+v %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
