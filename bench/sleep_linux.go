package bench

import (
	"syscall"
	"time"
)

// preciseThread readies the calling (locked) OS thread for sleepPrecise: a timer
// slack of 1 ns instead of the default 50 µs, which at 20,000 operations per
// second would be the whole interval.
func preciseThread() {
	const prSetTimerSlack = 29
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
}

// sleepPrecise waits d with the kernel's high-resolution timer. The Go runtime's
// timers wake up to a millisecond late for short waits, which an open loop at
// hundreds of operations per second would add to every latency it reports; the
// pacer runs on its own OS thread, so blocking that thread costs nothing else.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&ts, &rem)
		if err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
