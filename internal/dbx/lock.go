package dbx

import (
	"context"
	"fmt"
	"time"
)

// Lock takes a named database-wide lock held on a connection of its own until
// release is called: an advisory lock on the PostgreSQL family (openGauss has
// pg_advisory_lock and hashtext too), GET_LOCK on MySQL. With wait 0 it does not
// wait and ok is false when another session holds the lock; otherwise it waits
// up to wait (MySQL) or until ctx ends (PostgreSQL family).
func (db *DB) Lock(ctx context.Context, name string, wait time.Duration) (release func(), ok bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var q, unlock string
	args := []any{name}
	switch {
	case db.Dialect.Family() == FamilyMySQL:
		q, unlock = "SELECT COALESCE(GET_LOCK(?, ?), 0) = 1", "SELECT RELEASE_LOCK(?)"
		args = append(args, int(wait/time.Second))
	case wait == 0:
		q, unlock = "SELECT pg_try_advisory_lock(hashtext($1))", "SELECT pg_advisory_unlock(hashtext($1))"
	default:
		q, unlock = "SELECT pg_advisory_lock(hashtext($1)) IS NOT NULL", "SELECT pg_advisory_unlock(hashtext($1))"
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, wait)
			defer cancel()
		}
	}
	if err := conn.QueryRowContext(ctx, q, args...).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("take lock %s: %w", name, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		conn.ExecContext(context.Background(), unlock, name)
		conn.Close()
	}, true, nil
}
