package dbx

import (
	"fmt"
	"strings"
)

// Logical decoding through SQL functions: present on openGauss and PostgreSQL alike,
// with the differences answered here.

// CreateSlotSQL creates a logical slot: params (slot, plugin); returns (name, lsn).
func (d Dialect) CreateSlotSQL() string {
	return "SELECT * FROM pg_create_logical_replication_slot($1, $2)"
}

// DropSlotSQL drops a slot: param (slot).
func (d Dialect) DropSlotSQL() string { return "SELECT pg_drop_replication_slot($1)" }

// PeekChangesSQL reads up to $2 changes (whole transactions) from slot $1 without
// consuming them, with nOpts plugin options as further parameters. It returns
// (lsn text, xid text, data).
func (d Dialect) PeekChangesSQL(nOpts int) string {
	loc := "lsn"
	if d.usesXlogNames() {
		loc = "location" // openGauss and PostgreSQL 9.x name the column location
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s::text, xid::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2", loc)
	for i := range nOpts {
		fmt.Fprintf(&b, ", $%d", i+3)
	}
	b.WriteString(")")
	return b.String()
}

// AdvanceSlotSQL moves slot $1's confirmed position to LSN $2 (text).
func (d Dialect) AdvanceSlotSQL() string {
	if d.Engine == OpenGauss {
		return "SELECT pg_replication_slot_advance($1, $2)"
	}
	return "SELECT pg_replication_slot_advance($1, $2::pg_lsn)"
}

// SlotInfoSQL returns (plugin, active, restart lsn text, confirmed lsn text) of slot $1.
func (d Dialect) SlotInfoSQL() string {
	confirmed := "confirmed_flush_lsn"
	if d.Engine == OpenGauss {
		confirmed = "confirmed_flush"
	}
	return fmt.Sprintf("SELECT plugin, active, COALESCE(restart_lsn::text, ''), COALESCE(%s::text, '') FROM pg_replication_slots WHERE slot_name = $1", confirmed)
}
