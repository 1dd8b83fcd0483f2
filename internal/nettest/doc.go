// Package nettest gives tests network peers that misbehave on purpose: a server that
// accepts and never answers, to prove deadlines and interruption.
//
// It imports only the standard library (so that internal/dbx's own tests can use it).
package nettest
