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
	release, ok, err := target.Lock(ctx, "xckit_cdc_"+slot, 0)
	if err != nil {
		return nil, fmt.Errorf("target: the run lock of slot %s: %w", slot, err)
	}
	if !ok {
		return nil, fmt.Errorf("another xckit cdc run already applies slot %s to this target: stop it first (xckit cdc stop) or use another --slot", slot)
	}
	return release, nil
}
