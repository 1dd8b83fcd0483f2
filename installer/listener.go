package installer

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolder says who listens on a TCP address ("" when nobody does): "pid 123
// (payd)" when /proc tells, "another program" when it cannot (not our user's, say).
func portHolder(addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return ""
	}
	c.Close()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "another program"
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "another program"
	}
	if pid := listenerPID(p); pid != 0 {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return "another program"
}

// listenerPID finds the process holding a listening socket on port, from
// /proc/net/tcp{,6} (state 0A is LISTEN) and the socket inodes in /proc/<pid>/fd.
func listenerPID(port int) int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}
