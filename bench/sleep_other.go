//go:build !linux

package bench

import "time"

// sleepPrecise is time.Sleep where the kernel's nanosleep is not used.
func sleepPrecise(d time.Duration) { time.Sleep(d) }

func preciseThread() {}
