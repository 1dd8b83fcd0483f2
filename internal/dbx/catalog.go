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
