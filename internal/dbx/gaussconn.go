package dbx

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// gaussAuthConn sits between pgx and the server during startup. It answers
// openGauss's own authentication requests (sha256, md5_sha256, sm3), which pgx does
// not understand, and passes every other byte through unchanged. Once authentication
// has finished, or the server turns out to speak PostgreSQL's SASL, it is a plain
// pass-through.
type gaussAuthConn struct {
	net.Conn
	ctx            context.Context // the connect's deadline: the key derivation honours it
	user, password string
	announced      atomic.Bool // the startup message went out (as protocol 3.51)

	mu      sync.Mutex
	method  string // how the server asked us to log in (LoginMethod)
	through bool   // startup is over: pass bytes straight through
	pending []byte // bytes read from the server, not yet examined
	ready   []byte // examined bytes waiting for pgx
}

func newGaussAuthConn(ctx context.Context, c net.Conn, user, password string) *gaussAuthConn {
	return &gaussAuthConn{Conn: c, ctx: ctx, user: user, password: password}
}

// Write passes pgx's bytes through; the startup message (pgx announces 3.0) goes out
// announcing 3.51 instead, the version openGauss's own clients announce.
func (c *gaussAuthConn) Write(p []byte) (int, error) {
	// Not c.mu: pgx writes while another goroutine of it blocks in Read.
	first := c.announced.CompareAndSwap(false, true)
	if first && len(p) >= 8 && binary.BigEndian.Uint32(p[4:8]) == protocol30 {
		q := append([]byte(nil), p...)
		binary.BigEndian.PutUint32(q[4:8], gaussProtocol)
		return c.Conn.Write(q)
	}
	return c.Conn.Write(p)
}

func (c *gaussAuthConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.ready) == 0 {
		if c.through {
			if len(c.pending) > 0 {
				c.ready, c.pending = c.pending, nil
				break
			}
			return c.Conn.Read(p)
		}
		if err := c.examine(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

// examine reads until one whole server message is available and decides its fate.
func (c *gaussAuthConn) examine() error {
	for len(c.pending) < 5 || len(c.pending) < 1+int(binary.BigEndian.Uint32(c.pending[1:5])) {
		buf := make([]byte, 8192)
		n, err := c.Conn.Read(buf)
		c.pending = append(c.pending, buf[:n]...)
		if err != nil {
			if n > 0 {
				continue
			}
			// Hand over what we have; pgx reports the broken connection.
			c.through = true
			if len(c.pending) > 0 {
				return nil
			}
			return err
		}
	}
	size := 1 + int(binary.BigEndian.Uint32(c.pending[1:5]))
	msg := c.pending[:size]
	if msg[0] == 'v' {
		// NegotiateProtocolVersion (PostgreSQL, to our 3.51): pgx's; the authentication
		// request follows it.
		c.ready = append(c.ready, msg...)
		c.pending = c.pending[size:]
		return nil
	}
	if msg[0] != 'R' {
		// ErrorResponse, ...: not ours.
		c.through = true
		return nil
	}
	body := msg[5:]
	if len(body) >= 4 && binary.BigEndian.Uint32(body) == authOK {
		if c.method == "" {
			c.method = "trust (no password asked)"
		}
		c.through = true
		return nil
	}
	c.method = requestMethod(body)
	reply, handled, err := c.answer(body)
	if err != nil {
		return err
	}
	if !handled {
		// PostgreSQL's own request (md5, SCRAM, ...): pgx answers it. A SASL exchange
		// reuses codes 11 and 12, so after it nothing here may be reinterpreted.
		c.through = true
		return nil
	}
	c.pending = c.pending[size:]
	return c.writePassword(reply)
}

func (c *gaussAuthConn) writePassword(reply string) error {
	out := make([]byte, 0, 6+len(reply))
	out = append(out, 'p')
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(reply)+1))
	out = append(out, reply...)
	out = append(out, 0)
	if _, err := c.Conn.Write(out); err != nil {
		return fmt.Errorf("openGauss auth: send password message: %w", err)
	}
	return nil
}

// answer computes the reply; the key derivation stops when the connect's deadline
// passes or the command is interrupted.
func (c *gaussAuthConn) answer(body []byte) (string, bool, error) {
	r, handled, err := gaussAnswer(c.ctx, body, c.user, c.password)
	if err != nil && c.ctx.Err() != nil {
		return "", true, fmt.Errorf("openGauss auth: gave up computing the password proof: %w", c.ctx.Err())
	}
	return r, handled, err
}

// requestMethod names the login an authentication request asks for.
func requestMethod(body []byte) string {
	if len(body) < 4 {
		return "unknown"
	}
	code := binary.BigEndian.Uint32(body)
	switch {
	case (code == authSHA256 || code == authSM3) && len(body) >= 8 && binary.BigEndian.Uint32(body[4:]) <= gaussStoredSM3:
		name := "openGauss sha256 (code 10)"
		if code == authSM3 {
			name = "openGauss sm3 (code 13)"
		}
		if len(body) == 8+76 { // the 3.51 layout; below 3.50 a signature follows instead
			name += fmt.Sprintf(", %d iterations", binary.BigEndian.Uint32(body[8+72:]))
		}
		return name
	case code == authSHA256:
		return "PostgreSQL SASL (SCRAM)"
	case code == authMD5SHA256:
		return "openGauss md5_sha256 (code 11)"
	case code == authMD5:
		return "md5 (code 5)"
	case code == 3:
		return "clear-text password (code 3)"
	}
	return fmt.Sprintf("authentication code %d", code)
}

// LoginMethod connects once to a PostgreSQL-family DSN and reports how the server
// asked xckit to log in (sha256 with its iteration count, sm3, md5, SCRAM, trust).
func LoginMethod(ctx context.Context, raw string, timeout time.Duration) (string, error) {
	d, err := ParseDSN(raw)
	if err != nil {
		return "", err
	}
	if d.Family != FamilyPostgres {
		return "", fmt.Errorf("%s is not an openGauss or PostgreSQL DSN", d)
	}
	cfg, err := pgConfig(d, Options{ConnectTimeout: timeout, AppName: "xckit-selftest"})
	if err != nil {
		return "", err
	}
	var wrapped *gaussAuthConn
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, conn net.Conn) (net.Conn, error) {
		wrapped = newGaussAuthConn(ctx, conn, cfg.User, cfg.Password)
		return wrapped, nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(cctx, &cfg.Config)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %s", d, Redact(sanitize(err, d.Password).Error()))
	}
	defer conn.Close(context.Background())
	wrapped.mu.Lock()
	defer wrapped.mu.Unlock()
	return wrapped.method, nil
}
