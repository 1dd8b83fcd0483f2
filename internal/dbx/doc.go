// Package dbx is the one way xckit opens a database: DSN parsing and redaction,
// dialect detection from the server (openGauss, PostgreSQL, MySQL/MariaDB), the SQL
// differences between them, and openGauss's own password handshakes (sha256,
// md5_sha256, sm3) answered underneath pgx.
//
// It may import only the standard library, the database drivers and
// github.com/emmansun/gmsm (SM3).
package dbx
