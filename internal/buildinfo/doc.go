// Package buildinfo carries the version, commit and build date stamped into xckit and
// payd at link time (-ldflags -X), and the Go version and platform they run on.
//
// It imports only the standard library.
package buildinfo
