package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/atomicfile"
)

// Is recognises a process: its program name (the comm of /proc/<pid>/stat) contains
// Comm, and its command line holds Args as consecutive arguments. Either may be empty.
type Is struct {
	Comm string
	Args []string
}

func (is Is) String() string {
	switch {
	case is.Comm != "":
		return is.Comm
	case len(is.Args) > 0:
		return strings.Join(is.Args, " ")
	}
	return "process"
}

// ReadPIDFile reads the pid on a file's first line; 0 when there is none.
func ReadPIDFile(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}

// WritePIDFile records pid in file, never seen half-written.
func WritePIDFile(file string, pid int) error {
	return atomicfile.Write(file, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// Alive reports whether pid runs (not a zombie) and is the process described.
func Alive(pid int, is Is) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open || closing+2 >= len(s) || s[closing+2] == 'Z' {
		return false
	}
	if is.Comm != "" && !strings.Contains(s[open+1:closing], is.Comm) {
		return false
	}
	if len(is.Args) > 0 {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return false
		}
		want := []byte("\x00" + strings.Join(is.Args, "\x00") + "\x00")
		if !bytes.Contains(append([]byte("\x00"), cmdline...), want) {
			return false
		}
	}
	return true
}

// Running is the pid in file when that process is alive and is the one described; 0
// otherwise (no file, a stale pid, a recycled one).
func Running(file string, is Is) int {
	if pid := ReadPIDFile(file); Alive(pid, is) {
		return pid
	}
	return 0
}

// ErrForced marks a process that did not stop within its grace period and was killed.
var ErrForced = errors.New("killed with SIGKILL")

// StopOptions say how to stop a process.
type StopOptions struct {
	Is     Is
	Signal syscall.Signal // default SIGTERM
	Grace  time.Duration  // default 15s
	Kill   bool           // SIGKILL after the grace period (else give up with an error)
}

// Stop signals pid and waits until it is gone. Nothing happens when pid is not the
// process described. ctx ends the wait (the process keeps its signal).
func Stop(ctx context.Context, pid int, o StopOptions) error {
	if o.Signal == 0 {
		o.Signal = syscall.SIGTERM
	}
	if o.Grace <= 0 {
		o.Grace = 15 * time.Second
	}
	if !Alive(pid, o.Is) {
		return nil
	}
	if err := syscall.Kill(pid, o.Signal); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s pid %d: %w", o.Is, pid, err)
	}
	if gone(ctx, pid, o.Is, o.Grace) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %s pid %d to stop: %w", o.Is, pid, err)
	}
	if !o.Kill {
		return fmt.Errorf("%s pid %d did not stop within %s", o.Is, pid, o.Grace)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if gone(context.WithoutCancel(ctx), pid, o.Is, 5*time.Second) {
		return fmt.Errorf("%s pid %d did not stop within %s: %w", o.Is, pid, o.Grace, ErrForced)
	}
	return fmt.Errorf("%s pid %d survives SIGKILL", o.Is, pid)
}

// gone polls until the process is no longer alive, for at most d.
func gone(ctx context.Context, pid int, is Is, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !Alive(pid, is) {
			return true
		}
		select {
		case <-ctx.Done():
			return !Alive(pid, is)
		case <-t.C:
			return !Alive(pid, is)
		case <-tick.C:
		}
	}
}
