package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// BinlogPos is a position in a MySQL/MariaDB binary log: the file and the offset of
// the next event.
type BinlogPos struct {
	File string
	Pos  uint32
}

func (p BinlogPos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// Seq is the file's sequence number (binlog.000042 → 42): files are written in
// that order, so (Seq, Pos) orders positions across rotations.
func (p BinlogPos) Seq() (uint32, error) {
	i := strings.LastIndexByte(p.File, '.')
	n, err := strconv.ParseUint(p.File[i+1:], 10, 32)
	if i < 0 || err != nil {
		return 0, fmt.Errorf("binlog file %q: want <base>.<number>", p.File)
	}
	return uint32(n), nil
}

// BinlogKind is what a binlog event means to a reader of row changes.
type BinlogKind int

const (
	BinlogOther     BinlogKind = iota // nothing for a row reader (format, checkpoint, ...)
	BinlogBegin                       // a transaction starts (MariaDB GTID, MySQL GTID or BEGIN)
	BinlogRows                        // row changes of one table
	BinlogCommit                      // a transaction commits (XID, or a COMMIT statement)
	BinlogStatement                   // any other statement: DDL, or DML logged as a statement
	BinlogRotate                      // the server moved to another file
	BinlogHeartbeat                   // the server has nothing new
)

// BinlogEvent is one event, reduced to what a row reader needs.
type BinlogEvent struct {
	Kind BinlogKind
	Next BinlogPos // where the event after this one starts
	Time time.Time // when the server wrote it (whole seconds)
	// BinlogRows:
	Op       string // "insert", "update" or "delete"
	TableID  uint64
	Schema   string
	Table    string
	Names    []string // column names, when the server logs them (binlog_row_metadata=FULL)
	Unsigned map[int]bool
	// Rows: one image per row; an update's rows come in pairs, before then after.
	Rows [][]any
	// BinlogStatement / BinlogBegin:
	Query string
	GTID  string // MariaDB domain-server-sequence of a BinlogBegin, when the server has it
}

// BinlogOptions tune a binlog stream.
type BinlogOptions struct {
	ServerID  uint32        // this reader's server id, unique among the source's replicas
	Heartbeat time.Duration // ask the server for a heartbeat this often (default 1s)
	Log       *slog.Logger
}

// BinlogStream reads a MySQL/MariaDB binary log as a replica does.
type BinlogStream struct {
	syncer   *replication.BinlogSyncer
	streamer *replication.BinlogStreamer
	file     string
}

// StreamBinlog starts reading db's binary log at from. The stream does not reconnect
// by itself: a lost connection is an error of Next (IsTransient), and the caller
// starts again from the position it trusts.
func (db *DB) StreamBinlog(ctx context.Context, from BinlogPos, o BinlogOptions) (*BinlogStream, error) {
	if db.Dialect.Family() != FamilyMySQL {
		return nil, fmt.Errorf("a binary log is read from MySQL or MariaDB, not %s", db.Dialect.Name())
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	flavor := gomysql.MySQLFlavor
	if db.Dialect.Engine == MariaDB {
		flavor = gomysql.MariaDBFlavor
	}
	host, port := db.DSN.Host, db.DSN.Port
	if s := db.DSN.Params.Get("socket"); s != "" {
		host, port = s, 0 // the dialer takes a path when there is no port
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: o.ServerID, Flavor: flavor,
		Host: host, Port: uint16(port), User: db.DSN.User, Password: db.DSN.Password,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         o.Heartbeat,
		ReadTimeout:             5*o.Heartbeat + 5*time.Second,
		DisableRetrySync:        true,
		Logger:                  o.Log,
	}
	if port == 0 {
		cfg.Dialer = func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
	}
	s := &BinlogStream{syncer: replication.NewBinlogSyncer(cfg), file: from.File}
	type started struct {
		st  *replication.BinlogStreamer
		err error
	}
	done := make(chan started, 1)
	go func() {
		st, err := s.syncer.StartSync(gomysql.Position{Name: from.File, Pos: from.Pos})
		done <- started{st, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			s.syncer.Close()
			return nil, fmt.Errorf("start reading the binary log at %s: %w", from, sanitize(r.err, db.DSN.Password))
		}
		s.streamer = r.st
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				s.syncer.Close()
			}
		}()
		return nil, ctx.Err()
	}
	return s, nil
}

// Close ends the stream.
func (s *BinlogStream) Close() { s.syncer.Close() }

// Next waits for the next event until ctx ends.
func (s *BinlogStream) Next(ctx context.Context) (BinlogEvent, error) {
	ev, err := s.streamer.GetEvent(ctx)
	if err != nil {
		if ctx.Err() == nil {
			err = &binlogLost{err}
		}
		return BinlogEvent{}, err
	}
	out := BinlogEvent{Time: time.Unix(int64(ev.Header.Timestamp), 0).UTC()}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
		out.Kind, out.Next = BinlogRotate, BinlogPos{File: s.file, Pos: uint32(e.Position)}
		return out, nil
	case *replication.RowsEvent:
		out.Kind, out.TableID, out.Rows = BinlogRows, e.TableID, e.Rows
		out.Op = e.Type().String()
		if e.Table != nil {
			out.Schema, out.Table = string(e.Table.Schema), string(e.Table.Table)
			out.Names, out.Unsigned = e.Table.ColumnNameString(), e.Table.UnsignedMap()
		}
		if e.SkippedColumns != nil {
			for _, sk := range e.SkippedColumns {
				if len(sk) > 0 {
					return out, fmt.Errorf("the binary log at %s:%d holds a partial row image of %s.%s: set binlog_row_image=FULL on the source", s.file, ev.Header.LogPos, out.Schema, out.Table)
				}
			}
		}
	case *replication.XIDEvent:
		out.Kind = BinlogCommit
	case *replication.MariadbGTIDEvent:
		out.Kind, out.GTID = BinlogBegin, e.GTID.String()
	case *replication.GTIDEvent:
		out.Kind = BinlogBegin
	case *replication.QueryEvent:
		out.Query, out.Schema = string(e.Query), string(e.Schema)
		switch strings.ToUpper(strings.TrimSpace(out.Query)) {
		case "BEGIN":
			out.Kind = BinlogBegin
		case "COMMIT":
			out.Kind = BinlogCommit
		default:
			out.Kind = BinlogStatement
		}
	case *replication.GenericEvent:
		if ev.Header.EventType == replication.HEARTBEAT_EVENT || ev.Header.EventType == replication.HEARTBEAT_LOG_EVENT_V2 {
			out.Kind = BinlogHeartbeat
		}
	}
	out.Next = BinlogPos{File: s.file, Pos: ev.Header.LogPos}
	return out, nil
}

// binlogLost is a stream that ended under the reader: transient (start again).
type binlogLost struct{ err error }

func (e *binlogLost) Error() string { return "the binary log stream ended: " + e.err.Error() }
func (e *binlogLost) Unwrap() error { return e.err }

// transient: the stream ended because the connection did (the server restarted, the
// network failed), not because the server refused something (a purged file: 1236).
func (e *binlogLost) transient() bool {
	var my *gomysql.MyError
	if errors.As(e.err, &my) {
		return my.Code == 1053 || my.Code == 1927
	}
	return true
}

// BinlogStatus is the source's current binary log position and, where the server
// keeps them, its GTIDs (MariaDB's gtid_binlog_pos or MySQL's gtid_executed).
func (db *DB) BinlogStatus(ctx context.Context) (BinlogPos, string, error) {
	var p BinlogPos
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return p, "", fmt.Errorf("SHOW MASTER STATUS: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return p, "", err
		}
		return p, "", errors.New("the source writes no binary log (SHOW MASTER STATUS is empty): enable log_bin and restart it")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return p, "", err
	}
	pos, err := strconv.ParseUint(vals[1].String, 10, 32)
	if err != nil {
		return p, "", fmt.Errorf("SHOW MASTER STATUS position %q: %w", vals[1].String, err)
	}
	p = BinlogPos{File: vals[0].String, Pos: uint32(pos)}
	rows.Close()
	var gtid sql.NullString
	q := "SELECT @@GLOBAL.gtid_executed"
	if db.Dialect.Engine == MariaDB {
		q = "SELECT @@GLOBAL.gtid_binlog_pos"
	}
	if err := db.QueryRowContext(ctx, q).Scan(&gtid); err != nil {
		gtid.String = "" // a server without GTIDs
	}
	return p, gtid.String, nil
}

// BinlogFiles lists the binary logs the source still has, with their sizes, oldest
// first (SHOW BINARY LOGS).
func (db *DB) BinlogFiles(ctx context.Context) ([]BinlogPos, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []BinlogPos
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		size, _ := strconv.ParseUint(vals[1].String, 10, 32)
		out = append(out, BinlogPos{File: vals[0].String, Pos: uint32(size)})
	}
	return out, rows.Err()
}
