package proc

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() // reaped when it ends: no zombie left behind
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd
}

// A process is known by pid and by name or arguments; a stale or recycled pid file
// names nobody; a zombie is not alive.
func TestAliveAndRunning(t *testing.T) {
	t.Parallel()
	c := start(t, "sleep", "30")
	pid := c.Process.Pid
	file := filepath.Join(t.TempDir(), "x.pid")
	if err := WritePIDFile(file, pid); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		is   Is
		want bool
	}{
		{Is{}, true},
		{Is{Comm: "sleep"}, true},
		{Is{Args: []string{"sleep", "30"}}, true},
		{Is{Args: []string{"30"}}, true},
		{Is{Comm: "payd"}, false},                 // a recycled pid: another program
		{Is{Args: []string{"cdc", "run"}}, false}, // another command line
		{Is{Args: []string{"3"}}, false},          // whole arguments only
	} {
		if got := Alive(pid, tc.is); got != tc.want {
			t.Errorf("Alive(%d, %+v) = %v", pid, tc.is, got)
		}
		if got := Running(file, tc.is) == pid; got != tc.want {
			t.Errorf("Running(%+v) = %v", tc.is, got)
		}
	}
	if Running(filepath.Join(t.TempDir(), "none.pid"), Is{}) != 0 || Alive(0, Is{}) || Alive(-1, Is{}) {
		t.Error("no pid file, pid 0 or -1 must name nobody")
	}
	z := exec.Command("true")
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	defer z.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for Alive(z.Process.Pid, Is{}) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if Alive(z.Process.Pid, Is{}) {
		t.Error("a zombie (exited, not yet waited for) counts as alive")
	}
}

// Stop: a process that honours its signal goes within the grace period; one that
// ignores it is either left with an error or killed (ErrForced), as asked; another
// program behind the pid is never signalled.
func TestStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	polite := start(t, "sleep", "30")
	if err := Stop(ctx, polite.Process.Pid, StopOptions{Is: Is{Comm: "sleep"}, Grace: 5 * time.Second}); err != nil {
		t.Errorf("a process that honours SIGTERM: %v", err)
	}
	stubborn := start(t, "sh", "-c", `trap "" TERM; sleep 30 & wait; sleep 30`)
	time.Sleep(100 * time.Millisecond) // let the shell set its trap
	err := Stop(ctx, stubborn.Process.Pid, StopOptions{Is: Is{Comm: "sh"}, Grace: 300 * time.Millisecond})
	if err == nil || errors.Is(err, ErrForced) || !Alive(stubborn.Process.Pid, Is{}) {
		t.Errorf("without Kill, a process ignoring SIGTERM is left running with an error: %v", err)
	}
	if err := Stop(ctx, stubborn.Process.Pid, StopOptions{Is: Is{Comm: "payd"}, Signal: syscall.SIGKILL}); err != nil || !Alive(stubborn.Process.Pid, Is{}) {
		t.Errorf("a pid that is another program must not be signalled: %v", err)
	}
	err = Stop(ctx, stubborn.Process.Pid, StopOptions{Is: Is{Comm: "sh"}, Grace: 300 * time.Millisecond, Kill: true})
	if !errors.Is(err, ErrForced) || Alive(stubborn.Process.Pid, Is{}) {
		t.Errorf("with Kill: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	again := start(t, "sh", "-c", `trap "" TERM; sleep 30`)
	time.Sleep(100 * time.Millisecond)
	if err := Stop(cctx, again.Process.Pid, StopOptions{Is: Is{Comm: "sh"}, Grace: time.Minute, Kill: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("an ended context ends the wait at once: %v", err)
	}
}
