package cdc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/lab"
)

// TestLegacyRestart restarts a real MariaDB (a lab of the test's own, databases only)
// while the pipeline applies into it: the run waits, resumes, and verify is clean.
func TestLegacyRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts its own PostgreSQL and MariaDB; run without -short")
	}
	dir, err := os.MkdirTemp("", "xckit-cdc-restart-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	o := lab.Options{Dir: dir, GaussPort: 17432, LegacyPort: 17306, LBPort: 17000, Parts: []string{"gauss", "legacy"}}
	t.Cleanup(func() {
		lab.Down(context.Background(), o, true)
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := lab.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	env, _ := lab.EnvOf(o)
	sd, _ := dbx.ParseDSN(env.GaussAdminDSN)
	sd.Database = "payd"
	src, err := dbx.OpenDSN(ctx, sd, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := dbx.Open(ctx, env.LegacyDSN, dbx.Options{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	execSQL(t, src, "CREATE TABLE ev (id BIGINT PRIMARY KEY, v TEXT)")
	execSQL(t, dst, "CREATE TABLE ev (id BIGINT PRIMARY KEY, v TEXT)")
	if _, err := cdc.Init(ctx, cdc.InitOptions{Source: src, Target: dst, Slot: "restart", Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	dec, _ := cdc.DecoderFor(labPlugin)
	stats := &cdc.Stats{}
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(src, "restart", dec, 50), Sink: cdc.NewSink(dst, "restart"), Stats: stats,
		MaxWait: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pl.Run(runCtx) }()
	restarted := make(chan error, 1)
	for i := 1; i <= 400; i++ {
		execSQL(t, src, fmt.Sprintf("INSERT INTO ev VALUES (%d, 'v%d')", i, i))
		if i == 100 {
			go func() { restarted <- lab.Restart(ctx, o, "legacy") }()
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart MariaDB: %v", err)
	}
	lsn, _ := cdc.CurrentLSN(ctx, src)
	if err := cdc.WaitApplied(ctx, dst, "restart", lsn, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if stats.Retries.Load() == 0 {
		t.Error("the restart should have made the pipeline wait and retry")
	}
	rep, err := cdc.Verify(ctx, cdc.VerifyOptions{Source: src, Target: dst})
	if err != nil || !rep.Equal() || rep.Tables[0].SourceRows != 400 {
		t.Errorf("after the restart: %+v %v", rep.Tables, err)
	}
	cdc.Drop(ctx, src, dst, "restart")
}
