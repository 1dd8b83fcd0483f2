// Package platform is payd, the reference payment platform that xckit installs,
// benchmarks and rolls back: a signed HTTP JSON API for agreements and debit/credit
// payments, channel isolation (own concurrency limit, pool and queue timeout per
// channel), an idempotent ledger on openGauss/PostgreSQL or MySQL/MariaDB, embedded
// migrations per dialect, and Prometheus metrics.
//
// It may import internal/dbx, internal/buildinfo and well-kept libraries (never cmd/ or
// other capabilities; never a database driver: internal/dbx is the one way to them).
package platform
