// Package labtest gives integration tests the shared test lab: one lab (gauss,
// legacy, lb) on its own ports and directory, brought up once and reused by every test
// package, serialised across test processes with a file lock. `make test` takes it
// down afterwards. Tests run with -short skip with a message instead.
//
// Only _test.go files import it. It may import lab and internal/dbx.
package labtest
