package bench

import (
	"context"

	"github.com/xckit/xckit/internal/dbx"
)

// dbParameters are the settings that move acceptance figures, per protocol family.
var dbParameters = map[dbx.Family][]string{
	dbx.FamilyPostgres: {"max_connections", "shared_buffers", "work_mem", "wal_level", "synchronous_commit", "fsync", "wal_sync_method"},
	dbx.FamilyMySQL:    {"max_connections", "innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit", "sync_binlog", "binlog_format", "transaction_isolation"},
}

// DatabaseFingerprint names the platform's database and its key settings for the
// evidence. Settings the account may not read are left out, not guessed.
func DatabaseFingerprint(ctx context.Context, db *dbx.DB) map[string]string {
	out := map[string]string{"engine": db.Dialect.Name()}
	for _, name := range dbParameters[db.Dialect.Family()] {
		if v, err := db.Setting(ctx, name); err == nil {
			out[name] = v
		}
	}
	return out
}
