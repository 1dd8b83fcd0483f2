package cdc

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xckit/xckit/internal/dbx"
)

// The type mapping between the legacy side (MySQL/MariaDB) and openGauss, both ways,
// in one place: mysqlTypes says what openGauss type a MySQL column becomes (forward
// --create-tables) and how a binary-log value of it is written for openGauss (forward
// CDC); MySQLType (create.go) is the reverse direction. docs/cdc.md has the table.

// srcColumn is a MySQL/MariaDB column as information_schema describes it.
type srcColumn struct {
	Name       string
	DataType   string // int, varchar, datetime, ... (lower case)
	ColumnType string // int(10) unsigned, enum('a','b'), ...
	Nullable   bool
	CharLen    int64
	Precision  int64
	Scale      int64
	DatePrec   int64
}

func (c srcColumn) unsigned() bool { return strings.Contains(c.ColumnType, "unsigned") }

// mysqlType is one row of the forward mapping.
type mysqlType struct {
	gauss func(c srcColumn) string // the openGauss column type
	kind  valueKind                // how a value is carried (Column.Type for the applier)
}

type valueKind string

const (
	kindInt     valueKind = "bigint"
	kindNumeric valueKind = "numeric"
	kindFloat   valueKind = "double precision"
	kindText    valueKind = "text"
	kindBytes   valueKind = "bytea"
	kindTime    valueKind = "timestamp"
	kindDate    valueKind = "date"
	kindClock   valueKind = "time"
	kindEnum    valueKind = "enum"
	kindSet     valueKind = "set"
)

func fixed(t string) func(srcColumn) string { return func(srcColumn) string { return t } }

func intType(signed, unsigned string) func(srcColumn) string {
	return func(c srcColumn) string {
		if c.unsigned() {
			return unsigned
		}
		return signed
	}
}

var mysqlTypes = map[string]mysqlType{
	"tinyint":   {intType("smallint", "smallint"), kindInt},
	"smallint":  {intType("smallint", "integer"), kindInt},
	"mediumint": {intType("integer", "integer"), kindInt},
	"int":       {intType("integer", "bigint"), kindInt},
	"integer":   {intType("integer", "bigint"), kindInt},
	"bigint":    {intType("bigint", "numeric(20,0)"), kindInt},
	"year":      {fixed("smallint"), kindInt},
	"decimal": {func(c srcColumn) string {
		return fmt.Sprintf("numeric(%d,%d)", c.Precision, c.Scale)
	}, kindNumeric},
	"float":  {fixed("real"), kindFloat},
	"double": {fixed("double precision"), kindFloat},
	// openGauss in PG compatibility mode counts varchar(n) in characters, as MySQL does.
	"char":       {func(c srcColumn) string { return fmt.Sprintf("char(%d)", c.CharLen) }, kindText},
	"varchar":    {func(c srcColumn) string { return fmt.Sprintf("varchar(%d)", c.CharLen) }, kindText},
	"tinytext":   {fixed("text"), kindText},
	"text":       {fixed("text"), kindText},
	"mediumtext": {fixed("text"), kindText},
	"longtext":   {fixed("text"), kindText},
	"json":       {fixed("text"), kindText},
	"binary":     {fixed("bytea"), kindBytes},
	"varbinary":  {fixed("bytea"), kindBytes},
	"tinyblob":   {fixed("bytea"), kindBytes},
	"blob":       {fixed("bytea"), kindBytes},
	"mediumblob": {fixed("bytea"), kindBytes},
	"longblob":   {fixed("bytea"), kindBytes},
	"date":       {fixed("date"), kindDate},
	"datetime":   {func(c srcColumn) string { return fmt.Sprintf("timestamp(%d)", c.DatePrec) }, kindTime},
	// TIMESTAMP values are read in UTC (the binary log holds seconds since the epoch).
	"timestamp": {func(c srcColumn) string { return fmt.Sprintf("timestamp(%d)", c.DatePrec) }, kindTime},
	"time":      {func(c srcColumn) string { return fmt.Sprintf("time(%d)", c.DatePrec) }, kindClock},
	"enum":      {func(c srcColumn) string { return fmt.Sprintf("varchar(%d)", max(c.CharLen, 1)) }, kindEnum},
	"set":       {func(c srcColumn) string { return fmt.Sprintf("varchar(%d)", max(c.CharLen, 1)) }, kindSet},
}

// GaussType is the openGauss type of a MySQL/MariaDB column.
func (c srcColumn) GaussType() (string, error) {
	m, ok := mysqlTypes[c.DataType]
	if !ok {
		return "", fmt.Errorf("column %s: no openGauss type for MySQL %s: create the table on openGauss by hand and convert the values yourself", c.Name, c.ColumnType)
	}
	return m.gauss(c), nil
}

// sourceColumns reads a MySQL/MariaDB table's columns in ordinal order.
func sourceColumns(ctx context.Context, db *dbx.DB, table string) ([]srcColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name, LOWER(data_type), LOWER(column_type), is_nullable = 'YES',
		COALESCE(character_maximum_length, 0), COALESCE(numeric_precision, 0), COALESCE(numeric_scale, 0), COALESCE(datetime_precision, 0)
		FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []srcColumn
	for rows.Next() {
		var c srcColumn
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &c.Nullable, &c.CharLen, &c.Precision, &c.Scale, &c.DatePrec); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("table %s is not on the source", table)
	}
	return out, nil
}

// binlogColumn turns one binary-log value of c into the applier's typed text.
// Values that openGauss cannot hold (a zero date, text that is not UTF-8) are an
// error naming the column: never a silent substitute.
func binlogColumn(c srcColumn, v any) (Column, error) {
	out := Column{Name: c.Name}
	m, ok := mysqlTypes[c.DataType]
	if !ok {
		return out, fmt.Errorf("column %s: MySQL type %s is not replicated (docs/cdc.md lists the types)", c.Name, c.ColumnType)
	}
	out.Type = string(m.kind)
	if v == nil {
		out.Null = true
		return out, nil
	}
	text, err := binlogText(c, m.kind, v)
	if err != nil {
		return out, fmt.Errorf("column %s (%s): %w", c.Name, c.ColumnType, err)
	}
	out.Text = text
	if m.kind == kindEnum || m.kind == kindSet || (m.kind == kindInt && c.unsigned() && c.DataType == "bigint") {
		out.Type = string(kindText) // written as the text openGauss parses
	}
	return out, nil
}

func binlogText(c srcColumn, kind valueKind, v any) (string, error) {
	switch kind {
	case kindInt:
		return intText(v, c)
	case kindNumeric:
		return fmt.Sprint(v), nil
	case kindFloat:
		switch f := v.(type) {
		case float32:
			return strconv.FormatFloat(float64(f), 'g', -1, 32), nil
		case float64:
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		}
	case kindText:
		s := asString(v)
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("the value is not UTF-8 text: convert the column to utf8mb4 on the source")
		}
		return s, nil
	case kindBytes:
		b := []byte(asString(v))
		if c.DataType == "binary" && int64(len(b)) < c.CharLen {
			// BINARY(n) is right-padded with zero bytes; the binary log may not carry them.
			b = append(b, make([]byte, c.CharLen-int64(len(b)))...)
		}
		return `\x` + hex.EncodeToString(b), nil
	case kindTime, kindDate:
		s := asString(v)
		if strings.HasPrefix(s, "0000-00-00") || strings.Contains(s, "-00") {
			return "", fmt.Errorf("zero date %q has no openGauss value: set the row's date on the source (or NULL it), then continue", s)
		}
		return s, nil
	case kindClock:
		return asString(v), nil
	case kindEnum:
		return enumText(c, v)
	case kindSet:
		return setText(c, v)
	}
	return "", fmt.Errorf("unexpected value %T", v)
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// intText prints an integer. The binary log holds an unsigned value in the signed
// Go type of its width (MEDIUMINT sign-extended into an int32), so a negative
// unsigned value is brought back by the column's width.
func intText(v any, c srcColumn) (string, error) {
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	case uint64:
		return strconv.FormatUint(x, 10), nil
	default:
		return "", fmt.Errorf("unexpected integer %T", v)
	}
	if !c.unsigned() || n >= 0 {
		return strconv.FormatInt(n, 10), nil
	}
	bits := map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32}[c.DataType]
	if bits == 0 {
		return strconv.FormatUint(uint64(n), 10), nil // bigint
	}
	return strconv.FormatInt(n+int64(1)<<bits, 10), nil
}

// enumValues parses enum('a','b') or set('a','b').
func enumValues(columnType string) []string {
	open, end := strings.IndexByte(columnType, '('), strings.LastIndexByte(columnType, ')')
	if open < 0 || end < open {
		return nil
	}
	var out []string
	body := columnType[open+1 : end]
	for i := 0; i < len(body); i++ {
		if body[i] != '\'' {
			continue
		}
		var b strings.Builder
		for i++; i < len(body); i++ {
			if body[i] == '\'' {
				if i+1 < len(body) && body[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(body[i])
		}
		out = append(out, b.String())
	}
	return out
}

func enumText(c srcColumn, v any) (string, error) {
	n, ok := v.(int64)
	if !ok {
		return "", fmt.Errorf("unexpected enum value %T", v)
	}
	vals := enumValues(c.ColumnType)
	if n == 0 {
		return "", nil // MySQL's invalid-value enum: the empty string
	}
	if int(n) > len(vals) {
		return "", fmt.Errorf("enum index %d beyond %s", n, c.ColumnType)
	}
	return vals[n-1], nil
}

func setText(c srcColumn, v any) (string, error) {
	n, ok := v.(int64)
	if !ok {
		return "", fmt.Errorf("unexpected set value %T", v)
	}
	vals := enumValues(c.ColumnType)
	var parts []string
	for i, s := range vals {
		if n&(1<<i) != 0 {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ","), nil
}
