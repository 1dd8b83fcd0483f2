package labtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xckit/xckit/lab"
)

// Ports of the test lab: apart from the default lab's, so that a developer's running
// lab and the tests never meet, and below the kernel's ephemeral range (32768+), so
// that no client socket of the tests' own traffic can be holding them.
const (
	GaussPort  = 15432
	LegacyPort = 13306
	LBPort     = 18000
)

// Dir is where the test lab lives: $XCKIT_TEST_LAB_DIR, else <tmp>/xckit-testlab (a
// directory every user can traverse, as PostgreSQL's own user must when run as root).
func Dir() string {
	if d := os.Getenv("XCKIT_TEST_LAB_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "xckit-testlab")
}

// Options are the test lab's lab options.
func Options() lab.Options {
	return lab.Options{Dir: Dir(), GaussPort: GaussPort, LegacyPort: LegacyPort, LBPort: LBPort}
}

var (
	once  sync.Once
	env   lab.Env
	upErr error
)

// Ensure brings the test lab up (or finds it up) and returns how to reach it.
func Ensure(t testing.TB) lab.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the lab (real PostgreSQL, MariaDB, nginx); run without -short")
	}
	once.Do(func() { env, upErr = up() })
	if upErr != nil {
		t.Fatalf("test lab: %v", upErr)
	}
	return env
}

func up() (lab.Env, error) {
	dir := Dir()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return lab.Env{}, err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return lab.Env{}, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return lab.Env{}, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	payd, err := BuildPayd(ctx, dir+"-bin")
	if err != nil {
		return lab.Env{}, err
	}
	o := Options()
	o.PaydBin = payd
	if o.XckitBin, err = XckitBin(ctx, dir+"-bin"); err != nil {
		return lab.Env{}, err
	}
	if _, err := lab.Up(ctx, o); err != nil {
		return lab.Env{}, err
	}
	return lab.EnvOf(Options())
}

// XckitBin is the xckit the lab runs its gauss front with: $XCKIT_BIN (make test sets
// it to bin/xckit), else cmd/xckit built into dir.
func XckitBin(ctx context.Context, dir string) (string, error) {
	if b := os.Getenv("XCKIT_BIN"); b != "" {
		return filepath.Abs(b)
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "xckit")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/xckit")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build xckit: %w: %s", err, out)
	}
	return bin, nil
}

// BuildPayd builds cmd/payd into dir and returns the binary's path.
func BuildPayd(ctx context.Context, dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "payd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/payd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build payd: %w: %s", err, out)
	}
	return bin, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// Own brings up a lab of the test's own (a fresh directory named after prefix, on the
// ports and parts of o) and purges it when the test ends: for tests that stop,
// restart or fail over its parts, which the shared lab must never see.
func Own(t testing.TB, prefix string, o lab.Options) (lab.Options, lab.Env) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // PostgreSQL runs as another user and must reach it
	o.Dir = dir
	t.Cleanup(func() { lab.Down(context.Background(), o, true); os.RemoveAll(dir) })
	if _, err := lab.Up(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	env, err := lab.EnvOf(o)
	if err != nil {
		t.Fatal(err)
	}
	return o, env
}
