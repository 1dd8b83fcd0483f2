// Package proc is the kit's one way to track and stop its processes: pid files written
// atomically, a process recognised by pid and by name or command line (never a
// recycled pid, never a zombie), and stopping with a signal, a grace period and, when
// asked, SIGKILL after it. The lab, the installer, the runbooks and `xckit cdc` use it.
//
// It may import internal/atomicfile and the standard library.
package proc
