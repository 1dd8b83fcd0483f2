package cdc

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/xckit/xckit/internal/dbx"
)

// MySQLType maps a PostgreSQL-family column type (information_schema data_type with
// its length, precision and scale) to the MySQL/MariaDB type --create-tables uses.
// The mapping is documented in docs/cdc.md; types it does not know are an error.
func MySQLType(dataType string, charLen, precision, scale sql.NullInt64) (string, error) {
	switch strings.ToLower(dataType) {
	case "smallint":
		return "SMALLINT", nil
	case "integer":
		return "INT", nil
	case "bigint":
		return "BIGINT", nil
	case "numeric", "decimal":
		if precision.Valid {
			return fmt.Sprintf("DECIMAL(%d,%d)", precision.Int64, scale.Int64), nil
		}
		return "DECIMAL(65,30)", nil
	case "real":
		return "FLOAT", nil
	case "double precision":
		return "DOUBLE", nil
	case "boolean":
		return "TINYINT(1)", nil
	case "character varying", "varchar", "nvarchar2":
		if charLen.Valid {
			return fmt.Sprintf("VARCHAR(%d)", charLen.Int64), nil
		}
		return "LONGTEXT", nil
	case "character", "char":
		if charLen.Valid {
			return fmt.Sprintf("CHAR(%d)", charLen.Int64), nil
		}
		return "CHAR(1)", nil
	case "text", "clob", "json", "jsonb", "xml":
		return "LONGTEXT", nil
	case "uuid":
		return "CHAR(36)", nil
	case "date":
		return "DATE", nil
	case "timestamp without time zone", "timestamp with time zone":
		return "DATETIME(6)", nil // timestamptz values arrive in UTC
	case "time without time zone":
		return "TIME(6)", nil
	case "bytea", "blob", "raw":
		return "LONGBLOB", nil
	}
	return "", fmt.Errorf("no MySQL type for %s: create the table on the legacy side by hand", dataType)
}

// CreateTargetTable creates a source table on a MySQL/MariaDB target with mapped
// types and the same primary key. It refuses other targets.
func CreateTargetTable(ctx context.Context, source, target *dbx.DB, table string) (string, error) {
	if target.Dialect.Family() != dbx.FamilyMySQL {
		return "", fmt.Errorf("--create-tables creates MySQL/MariaDB tables; create %s on %s by hand", table, target.Dialect.Name())
	}
	pk, err := PrimaryKey(ctx, source, table)
	if err != nil {
		return "", err
	}
	rows, err := source.QueryContext(ctx, `SELECT column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name, typ, nullable string
		var charLen, prec, scale sql.NullInt64
		if err := rows.Scan(&name, &typ, &nullable, &charLen, &prec, &scale); err != nil {
			return "", err
		}
		mt, err := MySQLType(typ, charLen, prec, scale)
		if err != nil {
			return "", fmt.Errorf("table %s column %s: %w", table, name, err)
		}
		null := " NULL"
		if nullable == "NO" {
			null = " NOT NULL"
		}
		cols = append(cols, "`"+name+"` "+mt+null)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	q := make([]string, len(pk))
	for i, k := range pk {
		q[i] = "`" + k + "`"
	}
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s` (\n  %s,\n  PRIMARY KEY (%s)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", table, strings.Join(cols, ",\n  "), strings.Join(q, ", "))
	if _, err := target.ExecContext(ctx, ddl); err != nil {
		return ddl, fmt.Errorf("create %s on the target: %w", table, err)
	}
	return ddl, nil
}
