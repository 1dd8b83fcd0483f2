package cutover

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
	"github.com/xckit/xckit/profiles"
)

// BenchmarkCutoverAtScale: a legacy database of XCKIT_SCALE_PAYMENTS payments (default
// 5,000,000) and XCKIT_SCALE_ACCOUNTS accounts and agreements (default 100,000), under
// 300 payments/s of live load through the balancer. In one run: the forward cutover
// (cutover prepare copies online and follows; the window drains), a rollback, and the
// cutover that copies in its window, on the same data. Run it alone:
//
//	go test -run '^$' -bench CutoverAtScale -benchtime 1x -timeout 60m ./cutover
func BenchmarkCutoverAtScale(b *testing.B) {
	payments, accounts := envInt("XCKIT_SCALE_PAYMENTS", 5_000_000), envInt("XCKIT_SCALE_ACCOUNTS", 100_000)
	for range b.N {
		sl := newStoryLab(b, "xckit-scale-", 19932, 19906, 19900)
		site, env := sl.site, sl.env
		ctx := context.Background()
		var out bytes.Buffer
		legacy, err := dbx.Open(ctx, site.Legacy.BinlogSource(), dbx.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer legacy.Close()
		start := time.Now()
		for _, q := range []string{
			fmt.Sprintf("INSERT INTO accounts SELECT 10000 + seq, CONCAT('c', seq), 'CNY', 100000000, 0, NOW(6) - INTERVAL seq SECOND FROM seq_1_to_%d", accounts),
			fmt.Sprintf("INSERT INTO agreements SELECT CONCAT('ag-x-', seq), (SELECT merchant FROM agreements LIMIT 1), CONCAT('c', seq), 'tenpay', 10000 + seq, 'active', NOW(6) - INTERVAL seq SECOND, NULL FROM seq_1_to_%d", accounts),
			fmt.Sprintf(`INSERT INTO payments SELECT CONCAT('hist-', seq), (SELECT merchant FROM agreements LIMIT 1), IF(seq %% 3, 'debit', 'credit'), CONCAT('ag-x-', 1 + seq %% %d),
				10001 + seq %% %d, 'tenpay', seq %% 100000, 'CNY', 'succeeded', 'OK', SHA2(seq, 256), NOW(6) - INTERVAL seq SECOND FROM seq_1_to_%d`, accounts, accounts, payments),
		} {
			if _, err := legacy.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("legacy filled with %d payments and %d accounts in %.0fs", payments, accounts, time.Since(start).Seconds())
		client := &platform.Client{BaseURL: env.LBURL, Merchant: env.MerchantID, Key: env.MerchantKey, HTTP: &http.Client{Timeout: 10 * time.Second}}
		// 300 payments/s through the balancer from before the prepare until the end.
		loadCtx, stopLoad := context.WithCancel(ctx)
		defer stopLoad()
		w := &ackWorkload{PaymentWorkload: bench.PaymentWorkload{Client: client, Accounts: 1000, Channels: []string{"tenpay", "alipay", "other"}, DebitPct: 50, RunID: "scale"}}
		loadDone := make(chan *bench.Summary, 1)
		go func() {
			s, _ := bench.Run(loadCtx, w, bench.Options{Rate: 300, Duration: time.Hour})
			loadDone <- s
		}()

		// Forward: prepare online under load, then the window.
		fwd := *site
		fwd.CDC.Forward = true
		fwd.CDC.VerifySince = 0
		if v := os.Getenv("XCKIT_SCALE_VERIFY_SINCE"); v != "" {
			d, _ := time.ParseDuration(v)
			fwd.CDC.VerifySince = profiles.Duration(d)
		}
		opts := Options{Site: &fwd, Profile: sl.prof, XckitBin: sl.xckit, Out: &out, SkipAcceptance: true}
		b.Cleanup(func() { stopStream(context.Background(), &op{Options: opts}, forwardStream(&fwd)) })
		pStart := time.Now()
		prep, err := Prepare(ctx, PrepareOptions{Site: &fwd, XckitBin: sl.xckit, Out: &out})
		if err != nil {
			b.Fatalf("prepare: %v\n%s", err, out.String())
		}
		b.Logf("cutover prepare: online copy of %d rows in %.1fs (%.0f rows/s) under load; total %.1fs", prep.Copy.Rows, prep.Copy.Seconds, prep.Copy.RowsPerS, time.Since(pStart).Seconds())
		gauss, _ := dbx.Open(ctx, fwd.New.AppAdminDB(), dbx.Options{})
		defer gauss.Close()
		waitForwardCaughtUp(b, legacy, gauss, fwd.CDC.ForwardSlot, 10*time.Minute)
		out.Reset()
		rep, err := Cutover(ctx, opts)
		if err != nil || rep.Verdict != "ok" {
			b.Fatalf("forward cutover: %v\n%s", err, out.String())
		}
		b.Logf("FORWARD cutover: RTO %.2fs; window %s; forward lag at the fence %s; verify: %s", rep.RTOSeconds, windowText(rep.Window), rep.ForwardLag, stepDetail(rep, "verify"))
		b.ReportMetric(rep.RTOSeconds, "forward-rto-s")

		// Back, then the cutover that copies in its window, on the same data.
		out.Reset()
		rb, err := Rollback(ctx, opts)
		if err != nil || rb.Verdict != "ok" {
			b.Fatalf("rollback: %v\n%s", err, out.String())
		}
		b.Logf("rollback: RTO %.2fs, RPO %s; window %s", rb.RTOSeconds, rb.RPO, windowText(rb.Window))
		stopStream(ctx, &op{Options: opts}, forwardStream(&fwd))
		copyOpts := Options{Site: site, Profile: sl.prof, XckitBin: sl.xckit, Out: &out, SkipAcceptance: true}
		out.Reset()
		rep, err = Cutover(ctx, copyOpts)
		if err != nil || rep.Verdict != "ok" {
			b.Fatalf("copy cutover: %v\n%s", err, out.String())
		}
		b.Logf("COPY-IN-WINDOW cutover: RTO %.2fs; window %s", rep.RTOSeconds, windowText(rep.Window))
		b.ReportMetric(rep.RTOSeconds, "copy-rto-s")
		stopLoad()
		if sum := <-loadDone; sum != nil {
			b.Logf("load through all of it: %d ok, %d failed", sum.OK, sum.Failed)
		}
	}
}

func windowText(w []WindowPart) string {
	var parts []string
	for _, p := range w {
		parts = append(parts, fmt.Sprintf("%s %.2f", p.Step, p.Seconds))
	}
	return strings.Join(parts, ", ")
}

// stepDetail is what a report's step said.
func stepDetail(rep Report, name string) string {
	for _, s := range rep.Steps {
		if s.Name == name {
			return s.Detail
		}
	}
	return ""
}
