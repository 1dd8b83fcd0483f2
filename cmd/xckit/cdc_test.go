package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/internal/labtest"
)

func TestCDCCommands(t *testing.T) {
	env := labtest.Ensure(t)
	name := labtest.DatabaseName("cli", t)
	labtest.FreshDatabase(t, env, labtest.Gauss, name)
	legacy := labtest.FreshDatabase(t, env, labtest.Legacy, name)
	src, _ := dbx.ParseDSN(env.GaussAdminDSN)
	src.Database = name
	db, err := dbx.OpenDSN(context.Background(), src, dbx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE items (id BIGINT PRIMARY KEY, label TEXT)"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cdc.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("source: %s\ntarget: %s\nslot: xct_cli\nbatch: 100\n", src.URL(), legacy)), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("source: x\nslots: y\n"), 0o600)
	pid := filepath.Join(dir, "run.pid")
	t.Cleanup(func() { runCLI(t, "cdc", "drop", "--config", cfg, "--yes") })

	if code, _, errs := runCLI(t, "cdc", "init", "--config", bad); code != 2 || !strings.Contains(errs, "slots") {
		t.Errorf("bad config: %d %s", code, errs)
	}
	if code, out, errs := runCLI(t, "cdc", "init", "--config", cfg, "--create-tables"); code != 0 || !strings.Contains(out, "created on the target: items") {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "cdc", "stop", "--slot", "xct_cli", "--pid-file", pid); code != 1 || !strings.Contains(errs, "no cdc run") {
		t.Errorf("stop without a run: %d %s", code, errs)
	}
	// The long-running cdc run is a process of its own (one CLI app per process, as in
	// production; urfave/cli's global help flag is not safe for two apps at once).
	bin := filepath.Join(t.TempDir(), "xckit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	runCmd := exec.Command(bin, "cdc", "run", "--config", cfg, "--pid-file", pid, "--log-level", "warn")
	if err := runCmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runCmd.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(pid); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A second run on the same slot and target is refused.
	if code, _, errs := runCLI(t, "cdc", "run", "--config", cfg, "--pid-file", filepath.Join(dir, "second.pid")); code != 2 || !strings.Contains(errs, "another xckit cdc run") {
		t.Errorf("second run: %d %s", code, errs)
	}
	for i := 1; i <= 20; i++ {
		db.Exec(fmt.Sprintf("INSERT INTO items VALUES (%d, 'item %d')", i, i))
	}
	if code, out, errs := runCLI(t, "cdc", "wait", "--config", cfg, "--timeout", "30s"); code != 0 || !strings.Contains(out, "applied everything before") {
		t.Errorf("wait: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, "cdc", "status", "--config", cfg, "-o", "json", "--sample", "200ms"); code != 0 || !strings.Contains(out, `"lag_bytes"`) || !strings.Contains(out, `"apply_bytes_per_s"`) {
		t.Errorf("status: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "cdc", "status", "--config", cfg, "--sample", "0"); code != 0 || !strings.Contains(out, "CATCH-UP ETA") || strings.Contains(out, "B/s") {
		t.Errorf("status read once: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "cdc", "stop", "--slot", "xct_cli", "--pid-file", pid); code != 0 {
		t.Errorf("cdc stop: %d %s", code, errs)
	}
	if err := <-done; err != nil {
		t.Errorf("cdc run after cdc stop (SIGTERM): %v, want exit 0", err)
	}
	if code, out, _ := runCLI(t, "verify", "--config", cfg); code != 0 || !strings.Contains(out, "items") {
		t.Errorf("verify: %d %s", code, out)
	}
	// Break the target; verify says so (exit 1); --repair --yes mends it.
	ldb, _ := dbx.Open(context.Background(), legacy, dbx.Options{})
	defer ldb.Close()
	ldb.Exec("DELETE FROM items WHERE id = 3")
	ldb.Exec("UPDATE items SET label = 'tampered' WHERE id = 4")
	if code, out, _ := runCLI(t, "verify", "--config", cfg); code != 1 || !strings.Contains(out, "items missing: id=3") || !strings.Contains(out, "items different: id=4 (label)") {
		t.Errorf("verify of a broken target: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "verify", "--config", cfg, "--repair"); code != 1 || !strings.Contains(errs, "write 2 rows from the source") {
		t.Errorf("repair plan: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "verify", "--config", cfg, "--repair", "--yes"); code != 0 {
		t.Errorf("repair: %d %s", code, errs)
	}
}
