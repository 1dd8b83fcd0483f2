// Package gaussfront is the openGauss face of the lab's gauss: a TCP front that plays
// openGauss's startup and authentication (sha256 and sm3 verifiers, the request laid
// out by the client's protocol minor, openGauss's refusals), then relays the session to
// the PostgreSQL behind it through its unix socket, refusing with openGauss's errors
// the SQL openGauss does not have and turning openGauss's own spellings into
// PostgreSQL's (rules.go lists every one, with its source). It is a test double built
// from openGauss's source, for the lab only; nothing in the kit's production paths
// imports it.
//
// It may import internal/dbx, internal/atomicfile and the standard library.
package gaussfront
