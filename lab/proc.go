package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/proc"
)

// searchDirs are looked in after PATH; a variable so tests can empty it.
var searchDirs = func() []string {
	dirs := []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}
	if pg, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(pg) > 0 {
		sort.Sort(sort.Reverse(sort.StringSlice(pg)))
		dirs = append(pg, dirs...)
	}
	return dirs
}

// packageOf names the Debian package that provides a lab binary.
var packageOf = map[string]string{
	"initdb": "postgresql-15", "pg_ctl": "postgresql-15", "postgres": "postgresql-15",
	"mariadbd": "mariadb-server", "mariadb-install-db": "mariadb-server",
	"nginx": "nginx", "runuser": "util-linux",
}

// findBinary looks a program up on PATH, in the system sbin directories and in
// PostgreSQL's versioned directory (Debian keeps initdb out of PATH).
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range searchDirs() {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	pkg := packageOf[name]
	if pkg == "" {
		pkg = "the package that provides it"
	}
	return "", fmt.Errorf("%s not found: install it with `apt-get install %s` (or run `make setup`)", name, pkg)
}

// runAs describes who runs a lab process. PostgreSQL refuses to run as root, so as
// root it runs as an unprivileged user through runuser.
type runAs struct {
	name     string // "" means the current user
	uid, gid int
}

func (r runAs) command(ctx context.Context, bin string, args ...string) (*exec.Cmd, error) {
	if r.name == "" {
		return exec.CommandContext(ctx, bin, args...), nil
	}
	ru, err := findBinary("runuser")
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, ru, append([]string{"-u", r.name, "--", bin}, args...)...), nil
}

// unprivileged picks the user PostgreSQL runs as when we are root.
func unprivileged() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return runAs{name: name, uid: uid, gid: gid}, nil
	}
	return runAs{}, errors.New("running as root, but neither a postgres nor a nobody user exists for PostgreSQL to run as: install postgresql-15 (it creates postgres)")
}

// run executes a command and returns a clear error with its output tail.
func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Args[0])+" "+strings.Join(cmd.Args[1:min(len(cmd.Args), 4)], " "), err, tail(out.String(), 800))
	}
	return nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// readPID reads the first line of a pid file; 0 when there is none.
func readPID(file string) int { return proc.ReadPIDFile(file) }

// alive reports whether pid runs a program whose name contains comm (not a zombie).
func alive(pid int, comm string) bool { return proc.Alive(pid, proc.Is{Comm: comm}) }

// stopPID signals pid and waits until it is gone, escalating to SIGKILL after grace.
func stopPID(pid int, comm string, sig syscall.Signal, grace time.Duration) error {
	return proc.Stop(context.Background(), pid, proc.StopOptions{Is: proc.Is{Comm: comm}, Signal: sig, Grace: grace, Kill: true})
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 300*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// errGaveUp wraps a check failure that waiting will not cure (the process exited).
type errGaveUp struct{ error }

// waitFor polls check until it succeeds or the timeout passes; a check returning
// errGaveUp stops the wait at once.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if g, ok := last.(errGaveUp); ok {
			return fmt.Errorf("%s: %w", what, g.error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready within %s: %w", what, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// reachable checks that user u can walk down to dir (PostgreSQL, running as its own
// user, must reach its data directory through every parent).
func reachable(dir string, u runAs) error {
	if u.name == "" {
		return nil
	}
	abs, _ := filepath.Abs(dir)
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the %s user cannot reach %s: %s is not searchable by others (chmod o+x %s, or choose --dir elsewhere)", u.name, abs, p, p)
		}
		if p == "/" {
			return nil
		}
	}
}

// tailFile returns the end of a log file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(b), n)
}

// stopKitProcesses stops every payd and xckit whose pid file lies under dir (an
// installed payd's <prefix>/run/payd.pid, cutover's cdc.pid, the legacy payd): SIGTERM,
// then SIGKILL after a grace period. It returns what it stopped ("payd pid 123
// (new/run/payd.pid)"). Pid files of other programs (the databases, nginx) and of the
// gauss front are left to their parts.
func stopKitProcesses(dir string) ([]string, error) {
	var stopped []string
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".pid") {
			return nil
		}
		if rel, _ := filepath.Rel(dir, path); rel == filepath.Join("gauss", "front.pid") {
			return nil // the lab's own: its part stops it
		}
		pid := readPID(path)
		for _, comm := range []string{"payd", "xckit"} {
			if !alive(pid, comm) {
				continue
			}
			rel, _ := filepath.Rel(dir, path)
			if err := stopPID(pid, comm, syscall.SIGTERM, 15*time.Second); err != nil {
				errs = append(errs, err)
			}
			stopped = append(stopped, fmt.Sprintf("%s pid %d (%s)", comm, pid, rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return stopped, errors.Join(errs...)
}
