package cdc

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// Forward CDC reads the legacy database's binary log (ROW format, full row image)
// as a replica and hands whole source transactions to the same pipeline and applier
// as the reverse direction. A binary-log position (file number, offset) is carried
// as an LSN: the file's sequence number in the high 32 bits and the offset in the low
// ones, so positions order across rotations and the checkpoint table serves both
// directions.

// PosLSN encodes a binary-log position.
func PosLSN(p dbx.BinlogPos) (LSN, error) {
	seq, err := p.Seq()
	if err != nil {
		return 0, err
	}
	return LSN(uint64(seq)<<32 | uint64(p.Pos)), nil
}

// LSNPos decodes an LSN made by PosLSN, with the server's binary-log base name.
func LSNPos(l LSN, base string) dbx.BinlogPos {
	return dbx.BinlogPos{File: fmt.Sprintf("%s.%06d", base, uint64(l)>>32), Pos: uint32(l)}
}

// binlogBase is the base name of a binary-log file (binlog.000042 → binlog).
func binlogBase(file string) string {
	if i := strings.LastIndexByte(file, '.'); i > 0 {
		return file[:i]
	}
	return file
}

// ParsePosition reads a position given either way: binlog.000042:1234 or X/Y.
func ParsePosition(s string) (LSN, error) {
	if f, p, ok := strings.Cut(s, ":"); ok {
		var pos uint32
		if _, err := fmt.Sscanf(p, "%d", &pos); err != nil {
			return 0, fmt.Errorf("binary-log position %q: want <file>:<offset>", s)
		}
		return PosLSN(dbx.BinlogPos{File: f, Pos: pos})
	}
	return ParseLSN(s)
}

// ServerIDFor is the replica server id a forward run of slot uses: stable for the
// slot, and away from the small ids servers are usually given.
func ServerIDFor(slot string) uint32 { return 100000 + crc32.ChecksumIEEE([]byte(slot))%900000 }

// BinlogSource reads source transactions from a MySQL/MariaDB binary log.
type BinlogSource struct {
	db     *dbx.DB
	opts   dbx.BinlogOptions
	tables []string // patterns
	batch  int      // changes per Next, at transaction boundaries
	wait   time.Duration
	log    *slog.Logger

	stream *dbx.BinlogStream
	next   LSN // where the next transaction starts: the end of the last one handed out
	base   string
	cols   map[string][]srcColumn
	pks    map[string][]string
	cur    *Txn // the transaction being read
	// Spool bounds the memory of one large transaction (nil: DefaultSpoolBytes in
	// the system's temporary directory).
	Spool    *Spool
	explicit bool // it began with a BEGIN statement (not only a GTID event)
}

// BinlogSourceOptions configure a BinlogSource.
type BinlogSourceOptions struct {
	From     LSN      // start here (the checkpoint)
	Tables   []string // patterns of replicated tables
	Batch    int      // changes per read (default 5000)
	Wait     time.Duration
	ServerID uint32
	Log      *slog.Logger
}

// NewBinlogSource prepares a reader of db's binary log.
func NewBinlogSource(ctx context.Context, db *dbx.DB, o BinlogSourceOptions) (*BinlogSource, error) {
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	if o.Wait <= 0 {
		o.Wait = 100 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cur, _, err := db.BinlogStatus(ctx)
	if err != nil {
		return nil, err
	}
	return &BinlogSource{db: db, tables: o.Tables, batch: o.Batch, wait: o.Wait, log: o.Log, next: o.From,
		base: binlogBase(cur.File), cols: map[string][]srcColumn{}, pks: map[string][]string{},
		opts: dbx.BinlogOptions{ServerID: o.ServerID, Log: o.Log}}, nil
}

// CurrentLSN is the source's binary-log write position.
func (s *BinlogSource) CurrentLSN(ctx context.Context) (LSN, error) {
	p, _, err := s.db.BinlogStatus(ctx)
	if err != nil {
		return 0, err
	}
	return PosLSN(p)
}

// Confirm does nothing: the server keeps its binary logs by its own retention
// (binlog_expire_logs_seconds), which xckit check compares with the lag.
func (s *BinlogSource) Confirm(context.Context, LSN) error { return nil }

// dropCurrent forgets the transaction being read (it is read again).
func (s *BinlogSource) dropCurrent() {
	if s.cur != nil {
		s.cur.release()
		s.cur = nil
	}
}

// Close ends the stream.
func (s *BinlogSource) Close() {
	if s.stream != nil {
		s.stream.Close()
		s.stream = nil
	}
}

// Next returns the whole transactions read within the wait (at least one change per
// transaction of a replicated table), up to about batch changes. A lost stream is
// closed and its partial transaction dropped: the next call starts again at the end
// of the last transaction handed out.
func (s *BinlogSource) Next(ctx context.Context) (_ []Txn, err error) {
	if s.stream == nil {
		from := LSNPos(s.next, s.base)
		st, err := s.db.StreamBinlog(ctx, from, s.opts)
		if err != nil {
			return nil, err
		}
		s.dropCurrent()
		s.stream = st
	}
	var out []Txn
	// What this call read is handed out whole or not at all: on an error the next
	// call reads it again from where this one began.
	next, base := s.next, s.base
	defer func() {
		if err != nil {
			releaseAll(out)
			s.Close() // the next call connects again from s.next
			s.next, s.base = next, base
			s.dropCurrent()
		}
	}()
	changes := 0
	deadline := time.Now().Add(s.wait)
	for {
		wait := time.Until(deadline)
		if len(out) > 0 && s.cur == nil {
			wait = time.Millisecond // whole transactions in hand: only what is already here
		}
		if wait <= 0 && s.cur == nil {
			return out, nil
		}
		if s.cur != nil {
			wait = max(wait, 5*time.Second) // finish the transaction being read
		}
		ectx, cancel := context.WithTimeout(ctx, wait)
		ev, err := s.stream.Next(ectx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if s.cur == nil {
					return out, nil
				}
				continue
			}
			s.Close()
			return nil, err
		}
		txn, err := s.event(ctx, ev)
		if err != nil {
			s.Close()
			return nil, permanent(err)
		}
		if txn != nil {
			s.next = txn.CommitLSN
			if err := txn.seal(); err != nil {
				txn.release()
				s.Close()
				return nil, err
			}
			if txn.Len() > 0 {
				out = append(out, *txn)
				changes += txn.Len()
			}
			if changes >= s.batch {
				return out, nil
			}
		}
	}
}

// event folds one event into the transaction being read; it returns the transaction
// when the event commits it.
func (s *BinlogSource) event(ctx context.Context, ev dbx.BinlogEvent) (*Txn, error) {
	at, err := PosLSN(ev.Next)
	if err != nil {
		return nil, err
	}
	switch ev.Kind {
	case dbx.BinlogRotate:
		if b := binlogBase(ev.Next.File); b != "" {
			s.base = b
		}
	case dbx.BinlogBegin:
		if ev.Query != "" && s.cur != nil && s.cur.Len() == 0 {
			s.explicit = true // the BEGIN after a GTID event: the same transaction
			return nil, nil
		}
		s.dropCurrent()
		s.cur, s.explicit = &Txn{XID: ev.GTID}, ev.Query != ""
	case dbx.BinlogRows:
		if s.cur == nil {
			s.cur = &Txn{}
		}
		return nil, s.rows(ctx, ev)
	case dbx.BinlogCommit:
		t := s.cur
		if t == nil {
			t = &Txn{}
		}
		s.cur = nil
		t.CommitLSN, t.CommitTime = at, ev.Time
		return t, nil
	case dbx.BinlogStatement:
		if err := s.statement(ev); err != nil {
			return nil, err
		}
		if s.cur == nil || (!s.explicit && s.cur.Len() == 0) {
			// A standalone statement (DDL, GRANT: a GTID event, then the statement,
			// no commit event): the position after it is a transaction boundary.
			s.dropCurrent()
			return &Txn{CommitLSN: at, CommitTime: ev.Time}, nil
		}
	}
	return nil, nil
}

var ddlRe = regexp.MustCompile(`(?is)^\s*(?:/\*.*?\*/\s*)*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?(?:ONLINE\s+)?(?:IGNORE\s+)?(TABLE|INDEX|UNIQUE\s+INDEX|FULLTEXT\s+INDEX|VIEW|DATABASE|SCHEMA)?\s*(?:IF\s+(?:NOT\s+)?EXISTS\s+)?([` + "`" + `\w.$]+)?(?:\s+ON\s+([` + "`" + `\w.$]+))?`)

var dmlRe = regexp.MustCompile(`(?is)^\s*(?:/\*.*?\*/\s*)*(INSERT|UPDATE|DELETE|REPLACE|LOAD)\b`)

// statement stops the run on a statement that changes a replicated table's data or
// shape outside row events; other statements (users and grants, other databases,
// xckit's own tables) pass.
func (s *BinlogSource) statement(ev dbx.BinlogEvent) error {
	q := strings.TrimSpace(ev.Query)
	where := fmt.Sprintf("at %s", ev.Next)
	if dmlRe.MatchString(q) && s.ours(ev.Schema, "") {
		return fmt.Errorf("the binary log has a statement, not row events, %s: %q. Set binlog_format=ROW on the source, restart the forward CDC from a fresh initial copy", where, trimQuery(q))
	}
	m := ddlRe.FindStringSubmatch(q)
	if m == nil {
		return nil
	}
	verb, what, name := strings.ToUpper(m[1]), strings.ToUpper(m[2]), strings.Trim(m[3], "`")
	if m[4] != "" {
		name = strings.Trim(m[4], "`") // CREATE INDEX i ON t
	}
	db, table := ev.Schema, name
	if d, t, ok := strings.Cut(name, "."); ok {
		db, table = strings.Trim(d, "`"), strings.Trim(t, "`")
	}
	if what == "DATABASE" || what == "SCHEMA" {
		if verb == "DROP" && table == s.db.DSN.Database {
			return fmt.Errorf("the source database %s was dropped %s: forward CDC stops here", table, where)
		}
		return nil
	}
	if verb == "TRUNCATE" && what == "" {
		what = "TABLE"
	}
	if what == "" || !s.ours(db, table) {
		return nil
	}
	return fmt.Errorf("DDL on replicated table %s %s: %q. Forward CDC does not change openGauss's schema: apply the same change on openGauss by hand (docs/cdc.md, \"DDL\"), "+
		"then run xckit cdc copy --online again for that table (or --tables to leave it out)", table, where, trimQuery(q))
}

// ours: the table is in the source database and replicated ("" = any table there).
func (s *BinlogSource) ours(db, table string) bool {
	if db != "" && db != s.db.DSN.Database {
		return false
	}
	return table == "" || Selected(table, s.tables)
}

func trimQuery(q string) string {
	if len(q) > 200 {
		return q[:200] + "..."
	}
	return q
}

// rows turns a rows event of a replicated table into changes of the current
// transaction.
func (s *BinlogSource) rows(ctx context.Context, ev dbx.BinlogEvent) error {
	if !s.ours(ev.Schema, ev.Table) {
		return nil
	}
	cols, pk, err := s.shape(ctx, ev.Table)
	if err != nil {
		return err
	}
	where := func(i int) string { return fmt.Sprintf("%s row %d of the event ending at %s", ev.Table, i+1, ev.Next) }
	image := func(i int, row []any) ([]Column, error) {
		if len(row) != len(cols) {
			return nil, fmt.Errorf("%s has %d columns but the source table has %d: its shape changed (DDL?); bring openGauss's table in line and copy it again", where(i), len(row), len(cols))
		}
		if len(ev.Names) == len(cols) {
			for j, n := range ev.Names {
				if n != cols[j].Name {
					return nil, fmt.Errorf("%s: column %d is %s in the binary log but %s on the source now (DDL?)", where(i), j+1, n, cols[j].Name)
				}
			}
		}
		out := make([]Column, len(cols))
		for j, c := range cols {
			col, err := binlogColumn(c, row[j])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(i), err)
			}
			out[j] = col
		}
		return out, nil
	}
	base := Change{Schema: ev.Schema, Table: ev.Table, XID: s.cur.XID}
	switch ev.Op {
	case "insert":
		for i, r := range ev.Rows {
			c := base
			c.Kind = Insert
			if c.Columns, err = image(i, r); err != nil {
				return err
			}
			if err := s.cur.add(s.Spool, c); err != nil {
				return err
			}
		}
	case "update":
		if len(ev.Rows)%2 != 0 {
			return fmt.Errorf("%s: an update event with an odd number of row images", ev.Table)
		}
		for i := 0; i < len(ev.Rows); i += 2 {
			c := base
			c.Kind = Update
			before, err := image(i, ev.Rows[i])
			if err != nil {
				return err
			}
			if c.Columns, err = image(i+1, ev.Rows[i+1]); err != nil {
				return err
			}
			c.Key = keyOf(before, pk)
			if err := s.cur.add(s.Spool, c); err != nil {
				return err
			}
		}
	case "delete":
		for i, r := range ev.Rows {
			c := base
			c.Kind = Delete
			before, err := image(i, r)
			if err != nil {
				return err
			}
			c.Key = keyOf(before, pk)
			if err := s.cur.add(s.Spool, c); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: unknown rows event %q", ev.Table, ev.Op)
	}
	return nil
}

// shape reads (once) a replicated table's columns and key from the source.
func (s *BinlogSource) shape(ctx context.Context, table string) ([]srcColumn, []string, error) {
	if c, ok := s.cols[table]; ok {
		return c, s.pks[table], nil
	}
	cols, err := sourceColumns(ctx, s.db, table)
	if err != nil {
		return nil, nil, err
	}
	pk, err := PrimaryKey(ctx, s.db, table)
	if err != nil {
		return nil, nil, err
	}
	s.cols[table], s.pks[table] = cols, pk
	return cols, pk, nil
}

func keyOf(cols []Column, pk []string) []Column {
	out := make([]Column, 0, len(pk))
	for _, k := range pk {
		if c, ok := find(cols, k); ok {
			out = append(out, c)
		}
	}
	return out
}
