package cdc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/bench"
	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/platform"
)

// BenchmarkCDCLagUnderLoad: payd on gauss takes payments at a fixed rate
// (XCKIT_LAG_RATE, default 1000/s) for 30 s while a CDC pipeline follows into the
// legacy MariaDB; one payment in 20 is watched on the legacy side, and the time from
// payd's answer to the row's arrival there is the lag. One sub-benchmark per reader
// (XCKIT_LAG_READERS, default "none,sql,stream": none is the same load without CDC,
// the platform's own latency to compare with), side by side in one run:
//
//	go test -run '^$' -bench CDCLag -benchtime 1x ./cdc
func BenchmarkCDCLagUnderLoad(b *testing.B) {
	rate := 1000.0
	if v := os.Getenv("XCKIT_LAG_RATE"); v != "" {
		fmt.Sscan(v, &rate)
	}
	readers := []string{"none", cdc.ReaderSQL, cdc.ReaderStream}
	if v := os.Getenv("XCKIT_LAG_READERS"); v != "" {
		readers = strings.Split(v, ",")
	}
	for _, reader := range readers {
		b.Run(reader, func(b *testing.B) {
			for range b.N {
				lagRun(b, rate, reader)
			}
		})
	}
}

func lagRun(b *testing.B, rate float64, reader string) {
	p := newPair(b, "legacy")
	ctx := context.Background()
	platform.Migrate(ctx, p.src)
	platform.Migrate(ctx, p.dst)
	channels := []string{"tenpay", "alipay", "other"}
	if _, err := platform.Seed(ctx, p.src, platform.SeedOptions{Accounts: 2000, Balance: 1 << 40, Merchant: "m", Channels: channels}); err != nil {
		b.Fatal(err)
	}
	if _, err := cdc.Copy(ctx, cdc.CopyOptions{From: p.src, To: p.dst}); err != nil {
		b.Fatal(err)
	}
	slot := slotName(b)
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: p.src, Target: p.dst, Slot: slot}); err != nil {
		b.Fatal(err)
	}
	if reader == "none" {
		cpu0, db0 := pipelineCPU(), databaseCPU("postgres")
		sum, _ := lagUnderLoad(b, p.srcDSN, rate, channels, nil)
		cpu, db := pipelineCPU()-cpu0, databaseCPU("postgres")-db0
		b.ReportMetric(sum.Achieved, "payments/s")
		b.ReportMetric(sum.Platform.P99, "platform-p99-ms")
		b.ReportMetric(sum.Latency.P99, "client-p99-ms")
		b.Logf("no CDC: %.0f payments/s for 30 s (success %.2f%%); platform p99 %.1f ms, client p99 %.1f ms; CPU seconds: this process %.1f, PostgreSQL's lasting processes %.1f",
			sum.Achieved, sum.Success, sum.Platform.P99, sum.Latency.P99, cpu.Seconds(), db.Seconds())
		return
	}
	dec, _ := cdc.DecoderFor(labPlugin)
	var src cdc.Source = cdc.NewSQLReader(p.src, slot, dec, 5000)
	idle := 20 * time.Millisecond
	if reader == cdc.ReaderStream {
		sr := cdc.NewStreamReader(p.src, slot, dec, 5000)
		if v := os.Getenv("XCKIT_LAG_GATHER"); v != "" { // to try other gathers
			sr.Gather, _ = time.ParseDuration(v)
		}
		defer sr.Close()
		src = sr
	}
	runCtx, stop := context.WithCancel(ctx)
	stats := &cdc.Stats{}
	var logTo io.Writer = io.Discard
	if os.Getenv("XCKIT_LAG_LOG") != "" {
		logTo = os.Stderr
	}
	pl := &cdc.Pipeline{Reader: src, Sink: cdc.NewSink(p.dst, slot), Idle: idle, Stats: stats,
		Log: slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	done := make(chan error, 1)
	go func() { done <- pl.Run(runCtx) }()

	cpu0, db0, my0 := pipelineCPU(), databaseCPU("postgres"), databaseCPU("mariadbd")
	rows0 := stats.Rows.Load()
	sum, lags := lagUnderLoad(b, p.srcDSN, rate, channels, func(id string) bool {
		var n int
		p.dst.QueryRow("SELECT count(*) FROM payments WHERE req_id = ?", id).Scan(&n)
		return n == 1
	})
	cpu, db, my, rows := pipelineCPU()-cpu0, databaseCPU("postgres")-db0, databaseCPU("mariadbd")-my0, stats.Rows.Load()-rows0
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	reportLag(b, sum, lags)
	b.Logf("%s reader: %d batches, %d source transactions", reader, stats.Batches.Load(), stats.Txns.Load())
	b.ReportMetric(sum.Platform.P99, "platform-p99-ms")
	b.ReportMetric(sum.Latency.P99, "client-p99-ms")
	b.Logf("%s reader: platform p99 %.1f ms, client p99 %.1f ms; %d rows applied; CPU seconds: this process (load generator, payd and the pipeline) %.1f, PostgreSQL's lasting processes (the reader's backend or walsender) %.1f, MariaDB %.1f",
		reader, sum.Platform.P99, sum.Latency.P99, rows, cpu.Seconds(), db.Seconds(), my.Seconds())
}

// databaseCPU is the CPU time so far of the processes named name (postgres,
// mariadbd) alive now (a backend that ended is not counted: payd and the pipeline keep theirs).
func databaseCPU(name string) time.Duration {
	var total int64
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		if comm := s[open+1 : close]; comm != name {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) > 12 {
			var ut, st int64
			fmt.Sscan(fields[11], &ut)
			fmt.Sscan(fields[12], &st)
			total += ut + st
		}
	}
	return time.Duration(total) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// pipelineCPU is this process's CPU time so far (user and system).
func pipelineCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkForwardLagUnderLoad is the same for forward CDC: payd on the legacy
// MariaDB at a fixed rate (XCKIT_LAG_RATE, default 1000/s) for 30 s while forward
// `cdc run` follows its binary log into openGauss.
//
//	go test -run '^$' -bench ForwardLag -benchtime 1x ./cdc
func BenchmarkForwardLagUnderLoad(b *testing.B) {
	rate := 1000.0
	if v := os.Getenv("XCKIT_LAG_RATE"); v != "" {
		fmt.Sscan(v, &rate)
	}
	for range b.N {
		p := newForwardPair(b)
		ctx := context.Background()
		platform.Migrate(ctx, p.src)
		platform.Migrate(ctx, p.dst)
		channels := []string{"tenpay", "alipay", "other"}
		if _, err := platform.Seed(ctx, p.src, platform.SeedOptions{Accounts: 2000, Balance: 1 << 40, Merchant: "m", Channels: channels}); err != nil {
			b.Fatal(err)
		}
		slot := slotName(b)
		if _, err := cdc.OnlineCopy(ctx, cdc.OnlineCopyOptions{From: p.src, To: p.dst, Slot: slot}); err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		var logTo io.Writer = io.Discard
		if os.Getenv("XCKIT_LAG_LOG") != "" {
			logTo = os.Stderr
		}
		stats := cdc.NewStats()
		go func() {
			done <- cdc.Run(runCtx, cdc.RunOptions{Source: p.src, Target: p.dst, Slot: slot, Stats: stats,
				Log: slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		}()
		sum, lags := lagUnderLoad(b, p.srcDSN, rate, channels, func(id string) bool {
			var n int
			p.dst.QueryRow("SELECT count(*) FROM payments WHERE req_id = $1", id).Scan(&n)
			return n == 1
		})
		stop()
		if err := <-done; err != nil {
			b.Fatalf("forward run: %v", err)
		}
		reportLag(b, sum, lags)
		b.Logf("forward: %d batches, %d source transactions", stats.Batches.Load(), stats.Txns.Load())
	}
}

// lagUnderLoad runs payd on payDSN at rate for 30 s, one payment in 20 watched until
// arrived says it is on the other side; it returns the load's summary and the lags.
func lagUnderLoad(b *testing.B, payDSN string, rate float64, channels []string, arrived func(id string) bool) (*bench.Summary, []time.Duration) {
	ctx := context.Background()
	cfgFile := filepath.Join(b.TempDir(), "payd.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("dsn: %s\nmerchants: [{id: m, key: k-0123456789abcdef}]\n", payDSN)), 0o600)
	cfg, err := platform.LoadConfig(cfgFile)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := platform.NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	client := &platform.Client{BaseURL: hs.URL, Merchant: "m", Key: "k-0123456789abcdef",
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	w := &watchWorkload{PaymentWorkload: bench.PaymentWorkload{Client: client, Accounts: 2000, Channels: channels, DebitPct: 70, RunID: "lag"}}
	w.samples = make(chan sample, 10000)
	var lags []time.Duration
	var mu sync.Mutex
	watchDone := make(chan struct{})
	if arrived == nil { // no watcher: the samples are dropped
		arrived = func(string) bool { return true }
	}
	go func() { // watch sampled req_ids arrive on the legacy side
		defer close(watchDone)
		for s := range w.samples {
			for {
				if arrived(s.id) {
					mu.Lock()
					lags = append(lags, time.Since(s.acked))
					mu.Unlock()
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	b.ResetTimer()
	sum, err := bench.Run(ctx, w, bench.Options{Rate: rate, Duration: 30 * time.Second, Warmup: 2 * time.Second})
	b.StopTimer()
	close(w.samples)
	<-watchDone
	hs.Close()
	srv.Close()
	if err != nil {
		b.Fatal(err)
	}
	return sum, lags
}

func reportLag(b *testing.B, sum *bench.Summary, lags []time.Duration) {
	slices.Sort(lags)
	if len(lags) == 0 {
		b.Fatal("no samples")
	}
	q := func(f float64) float64 { return float64(lags[int(float64(len(lags)-1)*f)].Microseconds()) / 1000 }
	b.ReportMetric(sum.Achieved, "payments/s")
	b.ReportMetric(q(0.5), "lag-p50-ms")
	b.ReportMetric(q(0.99), "lag-p99-ms")
	b.ReportMetric(q(1), "lag-max-ms")
	b.Logf("%.0f payments/s for 30 s (success %.2f%%); CDC lag over %d samples: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		sum.Achieved, sum.Success, len(lags), q(0.5), q(0.99), q(1))
}

type sample struct {
	id    string
	acked time.Time
}

// watchWorkload is the payment workload that hands one payment in 20 to the watcher.
type watchWorkload struct {
	bench.PaymentWorkload
	samples chan sample
	n       int64
	mu      sync.Mutex
}

func (w *watchWorkload) Next(ctx context.Context, worker int) bench.Op {
	req := w.Request()
	op := w.Op(req)
	w.mu.Lock()
	w.n++
	n := w.n
	w.mu.Unlock()
	if n%20 != 0 {
		return op
	}
	id := req.ReqID
	return func(ctx context.Context) bench.Result {
		r := op(ctx)
		if r.OK() {
			select {
			case w.samples <- sample{id: id, acked: time.Now()}:
			default:
			}
		}
		return r
	}
}
