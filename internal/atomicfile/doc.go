// Package atomicfile writes files so that they are never seen half-written: a
// temporary file beside the target, fsynced, then renamed over it (state, reports,
// configuration, journals' companions).
//
// It imports only the standard library.
package atomicfile
