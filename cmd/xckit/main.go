// Command xckit checks, installs, replicates, benchmarks, cuts over and rolls back a
// payment platform moving onto openGauss. This file wires the CLI only: flags become
// options structs, and each capability package does the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
