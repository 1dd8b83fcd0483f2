// Command xckit checks, installs, replicates, benchmarks, cuts over and rolls back a
// payment platform moving onto openGauss. This file wires the CLI only: flags become
// options structs, and each capability package does the work.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopGrace is how long a command may take to stop after SIGINT or SIGTERM.
const stopGrace = 2 * time.Second

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "xckit: %s: stopping (a second signal, or %s, ends it at once)\n", s, stopGrace)
		cancel()
		select {
		case <-sigs:
		case <-time.After(stopGrace):
		}
		fmt.Fprintf(os.Stderr, "xckit: %s: did not stop in time, exiting now (an interrupted cutover or rollback continues with --resume)\n", s)
		code := 130
		if s == syscall.SIGTERM {
			code = 143
		}
		os.Exit(code)
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}
