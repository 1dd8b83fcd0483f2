package cdc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

func TestBinlogPositions(t *testing.T) {
	for _, c := range []struct {
		in   string
		lsn  string
		back string
		err  bool
	}{
		{in: "binlog.000042:1234", lsn: "2A/4D2", back: "binlog.000042:1234"},
		{in: "mysql-bin.000001:4", lsn: "1/4", back: "mysql-bin.000001:4"},
		{in: "binlog.1000000:7", lsn: "F4240/7", back: "binlog.1000000:7"},
		{in: "2A/4D2", lsn: "2A/4D2", back: "binlog.000042:1234"},
		{in: "binlog:12", err: true},
		{in: "binlog.000001:x", err: true},
	} {
		l, err := ParsePosition(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
			continue
		}
		if err != nil || l.String() != c.lsn {
			t.Errorf("%s: %s %v, want %s", c.in, l, err, c.lsn)
		}
		if got := LSNPos(l, c.back[:strings.LastIndexByte(c.back, '.')]); got.String() != c.back {
			t.Errorf("%s back: %s, want %s", c.in, got, c.back)
		}
	}
	// Positions order across a rotation.
	a, _ := PosLSN(dbx.BinlogPos{File: "binlog.000009", Pos: 900000000})
	b, _ := PosLSN(dbx.BinlogPos{File: "binlog.000010", Pos: 4})
	if a >= b {
		t.Errorf("binlog.000009:900000000 (%s) must be before binlog.000010:4 (%s)", a, b)
	}
}

func TestBinlogDistance(t *testing.T) {
	files := []dbx.BinlogPos{{File: "b.000001", Pos: 1000}, {File: "b.000002", Pos: 500}, {File: "b.000003", Pos: 300}}
	for _, c := range []struct {
		a, b  dbx.BinlogPos
		bytes int64
		found bool
	}{
		{dbx.BinlogPos{File: "b.000002", Pos: 100}, dbx.BinlogPos{File: "b.000002", Pos: 400}, 300, true},
		{dbx.BinlogPos{File: "b.000001", Pos: 900}, dbx.BinlogPos{File: "b.000003", Pos: 200}, 100 + 500 + 200, true},
		{dbx.BinlogPos{File: "b.000000", Pos: 4}, dbx.BinlogPos{File: "b.000003", Pos: 200}, 0, false}, // purged
	} {
		n, ok := binlogDistance(files, c.a, c.b)
		if ok != c.found || (ok && n != c.bytes) {
			t.Errorf("%s → %s: %d %v, want %d %v", c.a, c.b, n, ok, c.bytes, c.found)
		}
	}
}

// Which statements in the binary log stop forward CDC.
func TestBinlogStatements(t *testing.T) {
	s := &BinlogSource{db: &dbx.DB{DSN: dbx.DSN{Database: "payd"}}, tables: []string{"payments", "accounts"}}
	for _, c := range []struct {
		schema, q string
		stop      string // "" = passes
	}{
		{"payd", "ALTER TABLE payments ADD COLUMN note VARCHAR(10)", "DDL on replicated table payments"},
		{"payd", "alter online table `accounts` drop column x", "DDL on replicated table accounts"},
		{"payd", "TRUNCATE payments", "DDL on replicated table payments"},
		{"payd", "DROP TABLE IF EXISTS `payments`", "DDL on replicated table payments"},
		{"payd", "CREATE UNIQUE INDEX i ON payments (code)", "DDL on replicated table payments"},
		{"payd", "RENAME TABLE payments TO old_payments", "DDL on replicated table payments"},
		{"other", "ALTER TABLE payd.payments ADD x INT", "DDL on replicated table payments"},
		{"payd", "/* a comment */ ALTER TABLE payments ENGINE=InnoDB", "DDL on replicated table payments"},
		{"payd", "CREATE TABLE xckit_cdc_checkpoint (slot VARCHAR(64))", ""}, // the reverse CDC's own
		{"payd", "CREATE TABLE reports (id INT)", ""},                        // not replicated
		{"other", "ALTER TABLE payments ADD x INT", ""},                      // another database's
		{"payd", "GRANT INSERT ON payd.* TO 'pay'@'%'", ""},
		{"payd", "REVOKE INSERT, UPDATE, DELETE ON `payd`.* FROM 'pay'@'127.0.0.1'", ""},
		{"payd", "CREATE USER 'x'@'%'", ""},
		{"payd", "DROP DATABASE payd", "was dropped"},
		{"", "CREATE DATABASE scratch", ""},
		{"payd", "INSERT INTO payments VALUES (1)", "a statement, not row events"},
		{"payd", "SAVEPOINT a", ""},
	} {
		err := s.statement(dbx.BinlogEvent{Kind: dbx.BinlogStatement, Schema: c.schema, Query: c.q, Next: dbx.BinlogPos{File: "binlog.000001", Pos: 99}})
		switch {
		case c.stop == "" && err != nil:
			t.Errorf("%q must pass: %v", c.q, err)
		case c.stop != "" && (err == nil || !strings.Contains(err.Error(), c.stop)):
			t.Errorf("%q: %v, want %q", c.q, err, c.stop)
		}
	}
}

// Transactions are cut at commits; a standalone statement is a boundary of its own;
// rows of other databases and of tables not replicated are left out.
func TestBinlogTransactions(t *testing.T) {
	s := &BinlogSource{db: &dbx.DB{DSN: dbx.DSN{Database: "payd"}}, tables: []string{"t"},
		cols: map[string][]srcColumn{"t": {{Name: "id", DataType: "bigint", ColumnType: "bigint"}, {Name: "v", DataType: "varchar", ColumnType: "varchar(10)", CharLen: 10}}},
		pks:  map[string][]string{"t": {"id"}}}
	at := func(p uint32) dbx.BinlogPos { return dbx.BinlogPos{File: "binlog.000003", Pos: p} }
	ts := time.Unix(1700000000, 0).UTC()
	events := []dbx.BinlogEvent{
		{Kind: dbx.BinlogBegin, GTID: "0-1-7", Next: at(100)},
		{Kind: dbx.BinlogRows, Op: "insert", Schema: "payd", Table: "t", Rows: [][]any{{int64(1), "a"}, {int64(2), "b"}}, Next: at(200)},
		{Kind: dbx.BinlogRows, Op: "insert", Schema: "other", Table: "t", Rows: [][]any{{int64(9), "z"}}, Next: at(250)},
		{Kind: dbx.BinlogRows, Op: "update", Schema: "payd", Table: "t", Rows: [][]any{{int64(1), "a"}, {int64(3), "a2"}}, Next: at(300)},
		{Kind: dbx.BinlogCommit, Time: ts, Next: at(400)},
		{Kind: dbx.BinlogBegin, GTID: "0-1-8", Next: at(450)},
		{Kind: dbx.BinlogStatement, Schema: "payd", Query: "GRANT SELECT ON payd.* TO 'r'@'%'", Next: at(500)},
		{Kind: dbx.BinlogBegin, GTID: "0-1-9", Next: at(550)},
		{Kind: dbx.BinlogBegin, Query: "BEGIN", Next: at(560)},
		{Kind: dbx.BinlogRows, Op: "delete", Schema: "payd", Table: "t", Rows: [][]any{{int64(2), "b"}}, Next: at(600)},
		{Kind: dbx.BinlogCommit, Time: ts, Next: at(700)},
	}
	var txns []*Txn
	for _, ev := range events {
		txn, err := s.event(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if txn != nil {
			txns = append(txns, txn)
		}
	}
	if len(txns) != 3 {
		t.Fatalf("%d transactions, want 3 (rows, the GRANT's boundary, the delete)", len(txns))
	}
	first := txns[0]
	if first.XID != "0-1-7" || first.CommitLSN.String() != "3/190" || len(first.Changes) != 3 || !first.CommitTime.Equal(ts) {
		t.Errorf("first transaction: %+v", first)
	}
	if up := first.Changes[2]; up.Kind != Update || up.Key[0].Text != "1" || up.Columns[0].Text != "3" {
		t.Errorf("the update carries the old key and the new row: %+v", up)
	}
	if g := txns[1]; len(g.Changes) != 0 || g.CommitLSN.String() != "3/1F4" {
		t.Errorf("the GRANT is a boundary without changes: %+v", g)
	}
	if d := txns[2]; d.XID != "0-1-9" || len(d.Changes) != 1 || d.Changes[0].Kind != Delete || d.Changes[0].Key[0].Text != "2" {
		t.Errorf("the delete after GTID + BEGIN: %+v", d)
	}
}

func TestBinlogValues(t *testing.T) {
	for _, c := range []struct {
		col  srcColumn
		v    any
		text string
		err  string
	}{
		{srcColumn{Name: "a", DataType: "tinyint", ColumnType: "tinyint(3) unsigned"}, int8(-56), "200", ""},
		{srcColumn{Name: "a", DataType: "mediumint", ColumnType: "mediumint(8) unsigned"}, int32(-1), "16777215", ""},
		{srcColumn{Name: "a", DataType: "int", ColumnType: "int(10) unsigned"}, int32(-1), "4294967295", ""},
		{srcColumn{Name: "a", DataType: "bigint", ColumnType: "bigint(20) unsigned"}, int64(-1), "18446744073709551615", ""},
		{srcColumn{Name: "a", DataType: "int", ColumnType: "int(11)"}, int32(-5), "-5", ""},
		{srcColumn{Name: "a", DataType: "binary", ColumnType: "binary(4)", CharLen: 4}, "\x01\x02", `\x01020000`, ""},
		{srcColumn{Name: "a", DataType: "blob", ColumnType: "blob"}, []byte{0xde, 0xad}, `\xdead`, ""},
		{srcColumn{Name: "a", DataType: "enum", ColumnType: "enum('x','it''s')"}, int64(2), "it's", ""},
		{srcColumn{Name: "a", DataType: "enum", ColumnType: "enum('x','y')"}, int64(0), "", ""},
		{srcColumn{Name: "a", DataType: "set", ColumnType: "set('a','b','c')"}, int64(5), "a,c", ""},
		{srcColumn{Name: "a", DataType: "double", ColumnType: "double"}, float64(0.1), "0.1", ""},
		{srcColumn{Name: "a", DataType: "float", ColumnType: "float"}, float32(1.5), "1.5", ""},
		{srcColumn{Name: "d", DataType: "datetime", ColumnType: "datetime(6)"}, "0000-00-00 00:00:00.000000", "", "zero date"},
		{srcColumn{Name: "d", DataType: "date", ColumnType: "date"}, "2026-00-10", "", "zero date"},
		{srcColumn{Name: "s", DataType: "varchar", ColumnType: "varchar(10)"}, "\xff\xfe", "", "not UTF-8"},
		{srcColumn{Name: "g", DataType: "geometry", ColumnType: "geometry"}, []byte{1}, "", "not replicated"},
	} {
		got, err := binlogColumn(c.col, c.v)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.col.Name) {
				t.Errorf("%s %v: %v, want an error naming the column and %q", c.col.ColumnType, c.v, err, c.err)
			}
		case err != nil || got.Text != c.text:
			t.Errorf("%s %v: %q %v, want %q", c.col.ColumnType, c.v, got.Text, err, c.text)
		}
	}
	if c, err := binlogColumn(srcColumn{Name: "n", DataType: "int", ColumnType: "int"}, nil); err != nil || !c.Null {
		t.Errorf("NULL: %+v %v", c, err)
	}
}
