package cdc

import (
	"context"
	"fmt"

	"github.com/xckit/xckit/internal/dbx"
)

// LockSlot takes a lock on the target that only one `cdc run` per slot can hold,
// wherever it runs: two runs applying the same stream would race. The lock lives as
// long as the returned release is not called (it holds one connection).
func LockSlot(ctx context.Context, target *dbx.DB, slot string) (func(), error) {
	conn, err := target.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	name := "xckit_cdc_" + slot
	var got bool
	var q, unlock string
	if target.Dialect.Family() == dbx.FamilyMySQL {
		q, unlock = "SELECT COALESCE(GET_LOCK(?, 0), 0) = 1", "SELECT RELEASE_LOCK(?)"
	} else {
		q, unlock = "SELECT pg_try_advisory_lock(hashtext($1))", "SELECT pg_advisory_unlock(hashtext($1))"
	}
	if err := conn.QueryRowContext(ctx, q, name).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("target: take the run lock of slot %s: %w", slot, err)
	}
	if !got {
		conn.Close()
		return nil, fmt.Errorf("another xckit cdc run already applies slot %s to this target: stop it first (xckit cdc stop) or use another --slot", slot)
	}
	return func() {
		conn.ExecContext(context.Background(), unlock, name)
		conn.Close()
	}, nil
}
