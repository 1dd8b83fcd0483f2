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

// PeekUptoSQL peeks slot $1's changes up to the transaction that commits at LSN $2
// (text), without options: the positions and transaction ids only (openGauss's
// pg_logical_slot_peek_changes takes upto_lsn as text, PostgreSQL as pg_lsn).
func (d Dialect) PeekUptoSQL() string {
	loc, upto := "lsn", "$2::pg_lsn"
	if d.usesXlogNames() {
		loc = "location"
	}
	if d.Engine == OpenGauss {
		upto = "$2"
	}
	return fmt.Sprintf("SELECT %s::text, xid::text FROM pg_logical_slot_peek_changes($1, %s, NULL)", loc, upto)
}

// AdvanceSlotSQL moves slot $1's confirmed position to LSN $2 (text).
func (d Dialect) AdvanceSlotSQL() string {
	if d.Engine == OpenGauss {
		return "SELECT pg_replication_slot_advance($1, $2)"
	}
	return "SELECT pg_replication_slot_advance($1, $2::pg_lsn)"
}

// MinCDCOpenGauss is the oldest openGauss whose pg_replication_slots has the
// confirmed_flush column (added in 3.0.3) that the CDC's status and cluster checks read.
const MinCDCOpenGauss = "3.0.3"

// SlotInfoSQL returns (plugin, active, restart lsn text, confirmed lsn text) of slot $1;
// an openGauss older than MinCDCOpenGauss is refused with what to do.
func (d Dialect) SlotInfoSQL() (string, error) {
	confirmed := "confirmed_flush_lsn"
	if d.Engine == OpenGauss {
		if !d.VersionAtLeast(MinCDCOpenGauss) {
			return "", fmt.Errorf("openGauss %s has no confirmed_flush in pg_replication_slots (it came in %s): xckit's CDC needs openGauss %s or later; upgrade the server",
				d.Version, MinCDCOpenGauss, MinCDCOpenGauss)
		}
		confirmed = "confirmed_flush"
	}
	return fmt.Sprintf("SELECT plugin, active, COALESCE(restart_lsn::text, ''), COALESCE(%s::text, '') FROM pg_replication_slots WHERE slot_name = $1", confirmed), nil
}

// PrimaryKeySQL returns the primary-key columns of table $1 (? on MySQL) in key order,
// in the current schema (database on MySQL). The PostgreSQL family reads the catalog:
// information_schema.table_constraints lists only tables the user owns or holds a
// privilege other than SELECT on, and the CDC user has SELECT only. The SQL is
// openGauss's 9.2 base: no WITH ORDINALITY, no array_position; conkey is 1-based.
func (d Dialect) PrimaryKeySQL() string {
	if d.Family() == FamilyMySQL {
		return `SELECT k.column_name FROM information_schema.table_constraints c
			JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema AND k.table_name = c.table_name
			WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = DATABASE() AND c.table_name = ? ORDER BY k.ordinal_position`
	}
	return `SELECT a.attname FROM pg_constraint con
			JOIN pg_class c ON c.oid = con.conrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			CROSS JOIN generate_series(1, 32) AS k(pos)
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = con.conkey[k.pos]
			WHERE con.contype = 'p' AND n.nspname = current_schema() AND c.relname = $1
			ORDER BY k.pos`
}

// EndSessionsSQL ends every session of role $1 and counts them. On openGauss a session
// is (pid, sessionid): with enable_thread_pool=on the pid is a worker thread, and
// pg_terminate_backend(pid) leaves idle pooled sessions alive with their settings, so
// it is pg_terminate_session(pid, sessionid) (openGauss's server signal functions).
func (d Dialect) EndSessionsSQL() string {
	if d.Engine == OpenGauss {
		return "SELECT count(pg_terminate_session(pid, sessionid)) FROM pg_stat_activity WHERE usename = $1"
	}
	return "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1"
}

// RoleSessionsSQL counts the sessions of role $1 that started before $2 (a fence
// proves with it that none opened before the fence survived; later ones carry it).
func (d Dialect) RoleSessionsSQL() string {
	return "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND backend_start < $2"
}

// RoleFencedSQL counts the settings that make role $1 read-only (the rollback's fence,
// ALTER ROLE ... SET default_transaction_read_only = on): 0 when it may write.
func (d Dialect) RoleFencedSQL() string {
	return `SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
		WHERE r.rolname = $1 AND array_to_string(s.setconfig, ',') LIKE '%default_transaction_read_only=on%'`
}
