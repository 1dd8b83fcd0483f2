// Package installer puts payd onto openGauss in named phases — preflight, os-tune,
// db-bootstrap, schema, deploy, service, start, health, smoke — each idempotent, each
// able to say what it would do (--plan), each recorded in a fsynced journal so that an
// interrupted install is resumed knowingly (--resume) instead of repeated blindly.
//
// It may import checks, platform, profiles, internal/dbx, internal/journal,
// internal/atomicfile, internal/proc, internal/runbook and gopkg.in/yaml.v3.
package installer
