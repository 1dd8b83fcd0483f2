// Package cdc keeps the legacy database in step with openGauss: a reader peeks
// logical-decoding output through SQL functions (present on openGauss and PostgreSQL
// alike), decoders turn each plugin's text (mppdb_decoding, test_decoding, wal2json)
// into typed changes, and an applier writes whole source transactions into the target
// together with the checkpoint row, before the slot is advanced: nothing lost, nothing
// applied twice. Verify compares both sides row by row.
//
// It may import internal/dbx, internal/proc, profiles (the limits a status is judged
// by), github.com/prometheus/client_golang and the standard library.
package cdc
