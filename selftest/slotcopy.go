package selftest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// slotCopyWait is how long a standby has to show the primary's advance of the slot:
// openGauss copies a logical slot to its standbys by WAL replay (slot_redo in
// slotfuncs.cpp: redo_slot_create, redo_slot_advance), asynchronously.
var slotCopyWait = 10 * time.Second

// slotCopy proves, on a cluster DSN, whether the standbys keep a copy of a logical
// slot: the slot that survives a failover (openGauss with enable_slot_log = on, which
// logs slot creation and advance: log_slot_create/log_slot_advance in slotfuncs.cpp)
// or the gap the CDC stops at (PostgreSQL, or enable_slot_log off). It makes a slot
// on the primary, advances it, and waits on each standby for a copy confirming at
// least that far. Standbys without a copy are a finding, not a failure, unless
// enable_slot_log is on: then the documented copy did not come.
func (r *run) slotCopy(ctx context.Context) (string, error) {
	if r.cdc == nil {
		return "", errSkipped
	}
	d := r.cdc.DSN
	if !d.Cluster() {
		return "the CDC DSN names one node: nothing to prove (give every node, h1:5432,h2:5432/db?target_session_attrs=read-write, to prove whether the standbys keep the CDC's slot)", nil
	}
	logged := false
	if r.cdc.Dialect.Engine == dbx.OpenGauss {
		v, err := r.cdc.Setting(ctx, "enable_slot_log")
		if err != nil {
			return "", err
		}
		logged = v == "on"
	}
	plugin := r.cdc.Dialect.DefaultDecodingPlugin()
	if _, err := r.cdc.ExecContext(ctx, r.cdc.Dialect.CreateSlotSQL(), r.copySlot, plugin); err != nil {
		return "", fmt.Errorf("create slot %s as %s: %w", r.copySlot, d.User, err)
	}
	lsn, err := cdc.CurrentLSN(ctx, r.cdc)
	if err != nil {
		return "", err
	}
	if _, err := r.cdc.ExecContext(ctx, r.cdc.Dialect.AdvanceSlotSQL(), r.copySlot, lsn.String()); err != nil {
		return "", fmt.Errorf("advance slot %s: %w", r.copySlot, err)
	}
	info, _, err := cdc.SlotInfo(ctx, r.cdc, r.copySlot)
	if err != nil {
		return "", err
	}
	want, _ := cdc.ParseLSN(info.Confirmed)
	primary, _ := r.cdc.ServedBy(ctx)
	var found, missing []string
	for _, n := range d.Nodes() {
		e := dbx.Endpoint{Host: n.Host, Port: n.Port}
		if e == primary {
			continue
		}
		got, err := standbyCopy(ctx, n, r.copySlot, want)
		switch {
		case err != nil:
			return "", fmt.Errorf("node %s: %w", e, err)
		case got == "":
			missing = append(missing, e.String())
		default:
			found = append(found, fmt.Sprintf("%s keeps a copy (%s)", e, got))
		}
	}
	if err := dropSlot(ctx, r.cdc, r.copySlot); err != nil {
		return "", err
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("slot made on %s (the primary), advanced to %s", primary, want))
	parts = append(parts, found...)
	if len(missing) > 0 {
		if logged {
			return "", fmt.Errorf("%s; enable_slot_log is on, yet %s show(s) no copy of the slot confirming %s after %s: a failover there would stop the CDC with a gap; "+
				"check that the standbys replay (db.cluster.nodes) and that enable_slot_log is on for the CDC's sessions", strings.Join(parts, "; "), strings.Join(missing, ", "), want, slotCopyWait)
		}
		parts = append(parts, fmt.Sprintf("%s keep(s) no copy: logical slots stay on the primary (PostgreSQL; openGauss with enable_slot_log off), so after a failover "+
			"the CDC stops with a gap and the repair of docs/rollback.md applies; on openGauss, gs_guc reload -c \"enable_slot_log=on\" keeps them", strings.Join(missing, ", ")))
	}
	return strings.Join(parts, "; "), nil
}

// standbyCopy waits on one node for the slot confirming at least want; it returns
// how it found it, or "" when no such copy came in time.
func standbyCopy(ctx context.Context, n dbx.DSN, slot string, want cdc.LSN) (string, error) {
	db, err := dbx.OpenDSN(ctx, n, dbx.Options{AppName: "xckit-selftest", ConnectTimeout: 5 * time.Second, MaxOpenConns: 1})
	if err != nil {
		return "", err
	}
	defer db.Close()
	start := time.Now()
	for {
		info, ok, err := cdc.SlotInfo(ctx, db, slot)
		if err != nil {
			return "", err
		}
		if got, _ := cdc.ParseLSN(info.Confirmed); ok && got >= want {
			return fmt.Sprintf("confirmed %s after %.1f s", got, time.Since(start).Seconds()), nil
		}
		if time.Since(start) > slotCopyWait {
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
