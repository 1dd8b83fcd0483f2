package dbx

// Catalog queries the kit runs on every engine, in each engine's spelling: the current
// schema is current_schema() on the PostgreSQL family (openGauss included), the DSN's
// database, DATABASE(), on MySQL/MariaDB.

// ColumnsSQL returns (column name, data type) of table $1 (? on MySQL) in the current
// schema, in column order.
func (d Dialect) ColumnsSQL() string {
	return "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = " + d.currentSchema() +
		" AND table_name = " + d.Placeholder(1) + " ORDER BY ordinal_position"
}

// TablesSQL returns the base tables of the current schema, by name.
func (d Dialect) TablesSQL() string {
	return "SELECT table_name FROM information_schema.tables WHERE table_schema = " + d.currentSchema() +
		" AND table_type = 'BASE TABLE' ORDER BY table_name"
}

func (d Dialect) currentSchema() string {
	if d.Family() == FamilyMySQL {
		return "DATABASE()"
	}
	return "current_schema()"
}

// UniqueColumnsSQL returns the columns of table $1's unique indexes, its primary key's
// included, in the current schema (PostgreSQL family). openGauss's ON DUPLICATE KEY
// UPDATE may not set any of them ("INSERT ON DUPLICATE KEY UPDATE don't allow update on
// primary key or unique key.").
func (d Dialect) UniqueColumnsSQL() string {
	if d.Family() == FamilyMySQL {
		return `SELECT DISTINCT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`
	}
	return `SELECT DISTINCT a.attname FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
		WHERE i.indisunique AND n.nspname = current_schema() AND c.relname = $1`
}
