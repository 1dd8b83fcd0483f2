// Package bench drives load and measures it honestly: workloads produce operations,
// an open-loop driver paces them at a fixed rate and measures latency from each
// operation's intended start (so a stalled server cannot hide its stall), a
// closed-loop driver runs N workers, and HDR histograms record latency, service time
// and the platform's own time for the steady-state window.
//
// It may import platform (its client), profiles (the acceptance cases), internal/dbx and
// well-kept libraries.
package bench
