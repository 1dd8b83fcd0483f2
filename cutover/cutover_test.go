package cutover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/installer"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/journal"
	engine "github.com/xckit/xckit/internal/runbook"
	"github.com/xckit/xckit/lab"
	"github.com/xckit/xckit/platform"
	"github.com/xckit/xckit/profiles"
)

func build(t testing.TB, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v %s", pkg, err, out)
	}
	return bin
}

// TestCutoverAndRollbackUnderLoad runs the whole story on a lab of its own: install the
// new payd, cut over, send 500 payments/s through the balancer, roll back in the
// middle of it, and check that every payment the new side acknowledged is in legacy
// (RPO 0) and traffic reaches legacy; then a stalled CDC makes a rollback abort and
// restore the route; then switch forward again after legacy took writes.
func TestCutoverAndRollbackUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lab of its own, install, cutover, rollback under load")
	}
	sl := newStoryLab(t, "xckit-cutover-", 19432, 19306, 19000)
	o, env, prof, site, xckit := sl.opts, sl.env, sl.prof, sl.site, sl.xckit
	ctx := context.Background()
	var out bytes.Buffer
	opts := Options{Site: site, Profile: prof, XckitBin: xckit, Out: &out}
	// Without an acceptance report the cutover gate refuses, and nothing changes.
	if _, err := Cutover(ctx, opts); err == nil || !strings.Contains(err.Error(), "no acceptance report") {
		t.Fatalf("cutover without acceptance: %v", err)
	}
	opts.SkipAcceptance = true
	if rep, err := Cutover(ctx, opts); err != nil || rep.Verdict != "ok" {
		t.Fatalf("cutover: %v\n%s", err, out.String())
	}
	sw, _ := NewSwitcher(site.Switch)
	if side, _ := sw.Current(ctx); side != SideNew {
		t.Fatalf("after cutover the balancer routes to %q", side)
	}
	// lab up after a cutover leaves the legacy payd stopped (it used to start it: two
	// live sides), and still calls the lab healthy.
	if st, err := lab.Up(ctx, o); err != nil || answers(ctx, site.Legacy.Ready) {
		t.Fatalf("lab up after the cutover: %v; legacy payd up: %v", err, answers(ctx, site.Legacy.Ready))
	} else if !st.Healthy() {
		t.Errorf("lab status after the cutover: %+v", st.Parts)
	}

	up := func(url string) bool {
		r, err := http.Get(url)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}
	// 500 payments/s through the balancer; record every acknowledged req_id.
	client, w, loadDone := startLoad(env, "rb", 500, 8*time.Second)
	time.Sleep(3 * time.Second)
	out.Reset()
	rep, err := Rollback(ctx, opts)
	if err != nil || rep.Verdict != "ok" || !strings.HasPrefix(rep.RPO, "0:") {
		t.Fatalf("rollback under load: %v %+v\n%s", err, rep, out.String())
	}
	sum := <-loadDone
	t.Logf("rollback under %0.f payments/s: RTO %.2fs, RPO %s; load: %d ok, %d failed %v", sum.TargetRate, rep.RTOSeconds, rep.RPO, sum.OK, sum.Failed, sum.Errors)
	if rep.RTOSeconds > 10 {
		t.Errorf("RTO %.1fs, target 10 s", rep.RTOSeconds)
	}
	if side, _ := sw.Current(ctx); side != SideLegacy {
		t.Errorf("after rollback the balancer routes to %q", side)
	}
	legacy, err := dbx.Open(ctx, env.LegacyDSN, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	if missing := notOnce(t, legacy, w.acked()); missing > 0 || len(w.acked()) < 1000 {
		t.Errorf("%d of %d acknowledged payments are not in legacy", missing, len(w.acked()))
	}

	// The same rollback again finds legacy live: nothing to do, nothing touched (it
	// used to drain, time out at wait-cdc and "restore" traffic to the stale new side).
	out.Reset()
	rep, err = Rollback(ctx, opts)
	if err != nil || rep.Verdict != "nothing-to-do" {
		t.Fatalf("a second rollback must do nothing: %v %+v\n%s", err, rep, out.String())
	}
	if side, _ := sw.Current(ctx); side != SideLegacy || up("http://"+site.New.Listen+"/readyz") {
		t.Fatalf("a second rollback changed the world: route %q, new payd up %v", side, up("http://"+site.New.Listen+"/readyz"))
	}

	// A payment only the new side has that is not test traffic stops the cutover
	// (it would have been deleted); a test-traffic row is removed.
	admin, err := dbx.Open(ctx, site.New.AdminDB, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	newDB := strings.TrimSuffix(site.New.AdminDB, "/postgres")
	if i := strings.LastIndex(site.New.DB, "/"); i > 0 {
		newDB = newDB + site.New.DB[i:]
	}
	appAdmin, err := dbx.Open(ctx, newDB, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer appAdmin.Close()
	insertPayment := func(id string) {
		t.Helper()
		if _, err := appAdmin.ExecContext(ctx, `INSERT INTO payments (req_id, merchant, type, agreement_id, account_id, channel, amount, currency, status, code, body_hash, created_at)
			SELECT $1, merchant, 'debit', agreement_id, account_id, channel, 7, currency, status, code, body_hash, created_at FROM payments LIMIT 1`, id); err != nil {
			t.Fatal(err)
		}
	}
	insertPayment("acked-only-on-new")
	insertPayment(platform.TestTag + "acc-leftover")
	out.Reset()
	rep, err = Cutover(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "req_id=acked-only-on-new") || rep.Verdict != "aborted" {
		t.Fatalf("a cutover over a row only the new side has must stop naming it: %v\n%s", err, out.String())
	}
	if side, _ := sw.Current(ctx); side != SideLegacy || !up(site.Legacy.Ready) {
		t.Fatalf("after the refused copy legacy must be live again: route %q, legacy up %v; %v", side, up(site.Legacy.Ready), rep.Restored)
	}
	if _, err := appAdmin.ExecContext(ctx, "DELETE FROM payments WHERE req_id = 'acked-only-on-new'"); err != nil {
		t.Fatal(err)
	}

	// Switch forward after legacy took writes; then a stalled CDC makes rollback abort.
	for i := 0; i < 20; i++ {
		client.Pay(ctx, platform.PaymentRequest{ReqID: fmt.Sprintf("legacy-only-%d", i), Type: platform.Credit, AgreementID: "ag-seed-2", Amount: 5, Currency: "CNY", Channel: "alipay"})
	}
	out.Reset()
	if rep, err := Cutover(ctx, opts); err != nil || rep.Verdict != "ok" {
		t.Fatalf("switch forward: %v\n%s", err, out.String())
	}
	src, _ := dbx.Open(ctx, site.New.CDCSource, dbx.Options{})
	defer src.Close()
	lsn, _ := cdc.CurrentLSN(ctx, src)
	if err := cdc.WaitApplied(ctx, legacy, site.CDC.Slot, lsn, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := cdc.Verify(ctx, cdc.VerifyOptions{Source: src, Target: legacy}); err != nil || !v.Equal() {
		t.Errorf("after switching forward: %+v %v", v.Tables, err)
	}
	var n int
	if src.QueryRow("SELECT count(*) FROM payments WHERE req_id = $1", platform.TestTag+"acc-leftover").Scan(&n); n != 0 {
		t.Errorf("the test-traffic row only the new side had must be removed by the cutover's copy")
	}
	// Stall the CDC (SIGSTOP: it runs but applies nothing), write on the new side, then
	// ask for a rollback.
	cdcRun := livePid(filepath.Join(site.New.Prefix, "run", "cdc.pid"))
	syscall.Kill(cdcRun, syscall.SIGSTOP)
	client.Pay(ctx, platform.PaymentRequest{ReqID: "after-stall", Type: platform.Credit, AgreementID: "ag-seed-3", Amount: 5, Currency: "CNY", Channel: "other"})
	stalled := opts
	stalled.Site.CDC.Budget = profiles.Duration(2 * time.Second)
	out.Reset()
	rep, err = Rollback(ctx, stalled)
	if err == nil || rep.Verdict != "aborted" || !strings.Contains(err.Error(), "wait-cdc") {
		t.Fatalf("a stalled CDC must abort the rollback: %v\n%s", err, out.String())
	}
	if side, _ := sw.Current(ctx); side != SideNew {
		t.Errorf("after the aborted rollback the route must be back on new, is %q; restored: %v", side, rep.Restored)
	}
	if r, err := client.Pay(ctx, platform.PaymentRequest{ReqID: "after-abort", Type: platform.Credit, AgreementID: "ag-seed-3", Amount: 5, Currency: "CNY", Channel: "other"}); err != nil || r.Status != 200 {
		t.Errorf("the new side must take payments again after the abort: %v %+v", err, r)
	}

	// A cutover now finds the new side live and does nothing.
	syscall.Kill(cdcRun, syscall.SIGCONT)
	if rep, err := Cutover(ctx, opts); err != nil || rep.Verdict != "nothing-to-do" {
		t.Fatalf("a cutover over a live new side must do nothing: %v %+v", err, rep.World)
	}
	// xckit cdc stop --site stops the run the cutover started (the rollbacks below
	// start it again at wait-cdc).
	if out, err := exec.Command(xckit, "cdc", "stop", "--site", lab.SiteFile(o.Dir)).CombinedOutput(); err != nil || livePid(CDCPidFile(site)) != 0 {
		t.Fatalf("cdc stop --site: %v %s", err, out)
	}

	// Kill the rollback after each step and --resume: it completes with RPO 0, and at
	// no stop are both sides writable.
	newURL, legacyURL := "http://"+site.New.Listen+"/readyz", site.Legacy.Ready
	for k := 1; k <= 10; k++ {
		// Killed as step k+1 starts: its start is journaled, nothing after it.
		killed := rollbackBook(opts)
		killed.steps[k].do = func(context.Context, *op) (string, error) { return "", engine.ErrKilled }
		if _, err := execute(ctx, opts, killed); !errors.Is(err, engine.ErrKilled) {
			t.Fatalf("rollback killed after step %d: %v", k, err)
		}
		fenced := !canWrite(t, site)
		if up(legacyURL) && up(newURL) && !fenced {
			t.Fatalf("after step %d both sides are up and the new side can still write", k)
		}
		if k == 10 {
			// Killed after route-legacy: the world is the goal, so the rerun (with or
			// without --resume) has nothing to do and leaves the journal clean.
			if rep, err := Rollback(ctx, opts); err != nil || rep.Verdict != "nothing-to-do" {
				t.Fatalf("a rollback killed after its route must find nothing to do: %v %+v", err, rep)
			}
			if st, _ := journal.Read(filepath.Join(site.New.Prefix, "state", "rollback.journal")); st.Dirty != "" {
				t.Fatalf("the journal stays dirty at %s", st.Dirty)
			}
			continue
		}
		if _, err := Rollback(ctx, opts); err == nil || !strings.Contains(err.Error(), "--resume") {
			t.Fatalf("a rollback killed after step %d must refuse to start again without --resume: %v", k, err)
		}
		resumed := opts
		resumed.Resume = true
		rep, err := Rollback(ctx, resumed)
		if err != nil || rep.Verdict != "ok" || !strings.HasPrefix(rep.RPO, "0:") || rep.RPOTransactions == nil || *rep.RPOTransactions != 0 {
			t.Fatalf("--resume after step %d: %v %+v", k, err, rep)
		}
		// The clients' window spans both runs: from the first run's drain.
		if k >= 2 {
			st, _ := journal.Read(filepath.Join(site.New.Prefix, "state", "rollback.journal"))
			drained := firstStart(st.SinceReset, "drain")
			window := lastFinish(st.SinceReset, "route-legacy").Sub(drained).Seconds()
			if len(rep.Runs) != 2 || !drained.Before(rep.Runs[1].Started) || math.Abs(rep.RTOSeconds-window) > 0.01 {
				t.Fatalf("--resume after step %d: the RTO %.3fs must be the window from the first run's drain (%.3fs); runs %+v", k, rep.RTOSeconds, window, rep.Runs)
			}
		}
		if side, _ := sw.Current(ctx); side != SideLegacy {
			t.Fatalf("after the resumed rollback (killed after step %d) the route is %q", k, side)
		}
		if _, err := Cutover(ctx, opts); err != nil { // forward again for the next round
			t.Fatalf("cutover before round %d: %v", k+1, err)
		}
	}
}

// canWrite reports whether the platform's role on the new side may write.
func canWrite(t *testing.T, site *Site) bool {
	db, err := dbx.Open(context.Background(), site.New.DB, dbx.Options{})
	if err != nil {
		return false
	}
	defer db.Close()
	var ro string
	db.QueryRow("SHOW default_transaction_read_only").Scan(&ro)
	return ro == "off"
}

// ackWorkload remembers the req_ids that got 200.
type ackWorkload struct {
	bench.PaymentWorkload
	mu  sync.Mutex
	ids []string
}

func (a *ackWorkload) Next(ctx context.Context, worker int) bench.Op {
	req := a.Request()
	op := a.Op(req)
	return func(ctx context.Context) bench.Result {
		r := op(ctx)
		if r.OK() {
			a.mu.Lock()
			a.ids = append(a.ids, req.ReqID)
			a.mu.Unlock()
		}
		return r
	}
}

func (a *ackWorkload) acked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// storyLab is a lab of its own with payd installed into its new side, as a site has it
// before the first cutover.
type storyLab struct {
	opts        lab.Options
	env         lab.Env
	prof        *profiles.Profile
	site        *Site
	xckit, payd string
}

func newStoryLab(t testing.TB, prefix string, gaussPort, legacyPort, lbPort int) *storyLab {
	t.Helper()
	return newStoryLabWith(t, prefix, lab.Options{GaussPort: gaussPort, LegacyPort: legacyPort, LBPort: lbPort})
}

// newStoryLabWith is newStoryLab with more of the lab's options (standbys).
func newStoryLabWith(t testing.TB, prefix string, o lab.Options) *storyLab {
	t.Helper()
	bins := t.TempDir()
	xckit, payd := build(t, bins, "../cmd/xckit"), build(t, bins, "../cmd/payd")
	dir, _ := os.MkdirTemp("", prefix)
	os.Chmod(dir, 0o755)
	o.Dir, o.PaydBin, o.XckitBin = dir, payd, xckit
	t.Cleanup(func() {
		if pid := livePid(filepath.Join(dir, "new", "run", "cdc.pid")); pid != 0 { // before uninstall removes its pid file
			syscall.Kill(pid, syscall.SIGKILL)
		}
		installer.Uninstall(context.Background(), installer.Options{Prefix: filepath.Join(dir, "new")}, false)
		lab.Down(context.Background(), o, true)
		os.RemoveAll(dir)
	})
	ctx := context.Background()
	if _, err := lab.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	env, _ := lab.EnvOf(o)
	prof, _ := profiles.Load("lab")
	t.Setenv("XCKIT_MERCHANT_ID", env.MerchantID)
	t.Setenv("XCKIT_MERCHANT_KEY", env.MerchantKey)
	site, err := LoadSite(lab.SiteFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := installer.Install(ctx, installer.Options{Profile: prof, DB: env.GaussDSN, AdminDB: env.GaussAdminDSN, Prefix: site.New.Prefix,
		Listen: site.New.Listen, PaydBin: payd, Version: "v1"}); err != nil {
		t.Fatalf("install: %v", err)
	}
	return &storyLab{opts: o, env: env, prof: prof, site: site, xckit: xckit, payd: payd}
}
