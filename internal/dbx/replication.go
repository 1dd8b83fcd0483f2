package dbx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
)

// LogicalStream follows one logical slot over the streaming replication protocol (a
// connection with replication=database and START_REPLICATION ... LOGICAL). openGauss
// and PostgreSQL share the command (openGauss repl_gram.y, start_logical_replication)
// and the XLogData header, 'w' + dataStart + walEnd + sendTime in network order
// (walsender.cpp, WalSndPrepareWriteHelper). They differ in the keepalive and the
// client's status update: openGauss's walsender sends and reads them as raw C structs
// in the host's byte order (walsender.cpp WalSndKeepalive and
// ProcessStandbyReplyMessage; walprotocol.h PrimaryKeepaliveMessage = WalSndrMessage,
// StandbyReplyMessage), which openGauss's JDBC driver mirrors with little-endian
// buffers of the same sizes (V3PGReplicationStream processKeepAliveMessage,
// prepareUpdateStatus). The layouts are in keepalive and statusUpdate below.
type LogicalStream struct {
	conn    *pgconn.PgConn
	dialect Dialect
	sent    uint64 // the last position confirmed to the server
}

// StreamMessage is what the server sent: decoded output (Data, at Start), or a
// keepalive (Keepalive true) carrying the server's position.
type StreamMessage struct {
	Start     uint64 // XLogData: the LSN of the output (0 for a BEGIN written lazily)
	WALEnd    uint64 // the server's position
	Data      []byte // XLogData: the plugin's output
	Keepalive bool
}

// OpenLogicalStream connects to d for streaming logical replication. dialect is the
// server's, as Open detected it on an ordinary connection.
func OpenLogicalStream(ctx context.Context, d DSN, dialect Dialect, opt Options) (*LogicalStream, error) {
	if dialect.Family() != FamilyPostgres {
		return nil, fmt.Errorf("%s has no logical replication stream", dialect.Name())
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 10 * time.Second
	}
	cfg, err := pgConfig(d, opt)
	if err != nil {
		return nil, err
	}
	pc := cfg.Config
	pc.RuntimeParams["replication"] = "database"
	user, password := pc.User, pc.Password
	pc.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, conn net.Conn) (net.Conn, error) {
		return newGaussAuthConn(ctx, conn, user, password), nil
	}
	// A read's deadline only moves the socket's deadline: a cancel request would
	// reach the walsender.
	pc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(cctx, &pc)
	if err != nil {
		return nil, errors.New(Redact(sanitize(err, d.Password).Error()))
	}
	return &LogicalStream{conn: conn, dialect: dialect}, nil
}

// StartLogicalSQL is the command that starts streaming slot from LSN from (0: the
// slot's confirmed position) with the plugin's options as name/value pairs.
func StartLogicalSQL(slot string, from uint64, opts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START_REPLICATION SLOT %s LOGICAL %X/%X", quoteIdent(slot), from>>32, uint32(from))
	for i := 0; i+1 < len(opts); i += 2 {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(&b, "%s%s '%s'", sep, quoteIdent(opts[i]), strings.ReplaceAll(opts[i+1], "'", "''"))
	}
	if len(opts) >= 2 {
		b.WriteString(")")
	}
	return b.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Start starts streaming: the server answers with CopyBothResponse, or an error.
func (s *LogicalStream) Start(ctx context.Context, slot string, from uint64, opts []string) error {
	s.sent = from
	fe := s.conn.Frontend()
	fe.Send(&pgproto3.Query{String: StartLogicalSQL(slot, from, opts)})
	if err := s.flush(); err != nil {
		return err
	}
	for {
		msg, err := s.conn.ReceiveMessage(ctx)
		if err != nil {
			return fmt.Errorf("start streaming slot %s: %w", slot, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyBothResponse:
			return nil
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("start streaming slot %s: %w", slot, pgconn.ErrorResponseToPgError(m))
		case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		default:
			return fmt.Errorf("start streaming slot %s: unexpected %T from the server", slot, msg)
		}
	}
}

// Receive waits for the next message until ctx ends; a deadline that passes with
// nothing received is (StreamMessage{}, false, nil), and the stream goes on.
func (s *LogicalStream) Receive(ctx context.Context) (StreamMessage, bool, error) {
	msg, err := s.conn.ReceiveMessage(ctx)
	if err != nil {
		if pgconn.Timeout(err) && !s.conn.IsClosed() {
			return StreamMessage{}, false, nil
		}
		return StreamMessage{}, false, fmt.Errorf("replication stream: %w", err)
	}
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return StreamMessage{}, false, errors.New("replication stream: empty CopyData")
		}
		switch m.Data[0] {
		case 'w':
			if len(m.Data) < 25 {
				return StreamMessage{}, false, fmt.Errorf("replication stream: XLogData of %d bytes", len(m.Data))
			}
			return StreamMessage{Start: binary.BigEndian.Uint64(m.Data[1:]), WALEnd: binary.BigEndian.Uint64(m.Data[9:]),
				Data: m.Data[25:]}, true, nil
		case 'k':
			end, reply, err := s.dialect.keepalive(m.Data)
			if err != nil {
				return StreamMessage{}, false, err
			}
			if reply {
				if err := s.Confirm(s.sent); err != nil {
					return StreamMessage{}, false, err
				}
			}
			return StreamMessage{WALEnd: end, Keepalive: true}, true, nil
		}
		return StreamMessage{}, false, fmt.Errorf("replication stream: unknown message %q", m.Data[0])
	case *pgproto3.ErrorResponse:
		return StreamMessage{}, false, fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
	case *pgproto3.CopyDone:
		return StreamMessage{}, false, errors.New("replication stream: the server ended the stream")
	case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		return StreamMessage{}, false, nil
	}
	return StreamMessage{}, false, fmt.Errorf("replication stream: unexpected %T", msg)
}

// Confirm tells the server that everything before pos is applied: a logical slot's
// confirmed position (PostgreSQL: the flush field; openGauss: AdvanceReplicationSlot
// with the reply's flush).
func (s *LogicalStream) Confirm(pos uint64) error {
	s.sent = pos
	s.conn.Frontend().Send(&pgproto3.CopyData{Data: s.dialect.statusUpdate(pos, time.Now(), false)})
	return s.flush()
}

func (s *LogicalStream) flush() error {
	s.conn.Conn().SetWriteDeadline(time.Now().Add(10 * time.Second))
	defer s.conn.Conn().SetWriteDeadline(time.Time{})
	if err := s.conn.Frontend().Flush(); err != nil {
		return fmt.Errorf("replication stream: send: %w", err)
	}
	return nil
}

// Close ends the connection without CopyDone: openGauss's walsender answers a
// client's CopyDone by exiting (walsender.cpp, ProcessRepliesIfAny), and closing
// says the same to both.
func (s *LogicalStream) Close() error {
	return s.conn.Conn().Close()
}

// pgEpoch is the replication protocol's clock origin: microseconds since 2000-01-01.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// OpenGaussKeepaliveLen and OpenGaussStatusLen are the messages' sizes on openGauss
// (with the leading type byte): 1 + sizeof(PrimaryKeepaliveMessage) = 1 + 32, and
// 1 + sizeof(StandbyReplyMessage) = 1 + 64.
const (
	OpenGaussKeepaliveLen = 33
	OpenGaussStatusLen    = 65
	postgresKeepaliveLen  = 18 // 'k' walEnd sendTime replyRequested
	postgresStatusLen     = 34 // 'r' write flush apply sendTime replyRequested
)

// keepalive reads a primary keepalive. PostgreSQL: walEnd and sendTime in network
// order, then replyRequested. openGauss (walprotocol.h WalSndrMessage, host order):
// walEnd 0-7, peer_role 8-11, peer_state 12-15, sendTime 16-23, replyRequested 24,
// catchup 25, then flags and padding to 32.
func (d Dialect) keepalive(b []byte) (walEnd uint64, reply bool, err error) {
	if d.Engine == OpenGauss {
		if len(b) < OpenGaussKeepaliveLen {
			return 0, false, fmt.Errorf("replication stream: openGauss keepalive of %d bytes, want %d", len(b), OpenGaussKeepaliveLen)
		}
		return binary.LittleEndian.Uint64(b[1:]), b[1+24] != 0, nil
	}
	if len(b) < postgresKeepaliveLen {
		return 0, false, fmt.Errorf("replication stream: keepalive of %d bytes, want %d", len(b), postgresKeepaliveLen)
	}
	return binary.BigEndian.Uint64(b[1:]), b[17] != 0, nil
}

// statusUpdate is the client's standby status update confirming pos. PostgreSQL:
// write, flush, apply, sendTime (network order), replyRequested. openGauss
// (walprotocol.h StandbyReplyMessage, host order): receive, write, flush, apply,
// applyRead at 0-39, peer_role 40, peer_state 44, sendTime 48, replyRequested 56,
// replyFlags 60. Every position is pos (openGauss's JDBC driver sends receive and
// apply as the largest LSN; the walsender takes flush for a logical slot); both
// roles are the largest int32, as that driver sends them.
func (d Dialect) statusUpdate(pos uint64, at time.Time, reply bool) []byte {
	clock := uint64(at.Sub(pgEpoch).Microseconds())
	if d.Engine == OpenGauss {
		b := make([]byte, OpenGaussStatusLen)
		b[0] = 'r'
		le := binary.LittleEndian
		for i := range 5 {
			le.PutUint64(b[1+8*i:], pos)
		}
		le.PutUint32(b[41:], 1<<31-1)
		le.PutUint32(b[45:], 1<<31-1)
		le.PutUint64(b[49:], clock)
		if reply {
			b[57] = 1
		}
		return b
	}
	b := make([]byte, postgresStatusLen)
	b[0] = 'r'
	be := binary.BigEndian
	be.PutUint64(b[1:], pos)
	be.PutUint64(b[9:], pos)
	be.PutUint64(b[17:], pos)
	be.PutUint64(b[25:], clock)
	if reply {
		b[33] = 1
	}
	return b
}
