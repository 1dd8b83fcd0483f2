// Package cutover switches traffic to the new system and puts the legacy system back
// in one command: named steps recorded in the shared journal, gates that abort and
// restore the previous route, a fence that guarantees there are never two writable
// sides, and a report of RTO and RPO. Traffic switch drivers (nginx, exec) sit behind
// one small interface.
//
// It may import cdc, installer, platform, profiles, report (its HTML report), internal/dbx,
// internal/journal, internal/proc, internal/runbook and gopkg.in/yaml.v3.
package cutover
