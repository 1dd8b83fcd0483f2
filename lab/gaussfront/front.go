package gaussfront

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// DefaultIteration is openGauss's default auth_iteration_count
// (src/common/backend/utils/misc/guc/guc_security.cpp: 10000, range 2048..134217728).
const DefaultIteration = 10000

// ServerVersion is what openGauss reports as server_version (its 9.2.4 base).
const ServerVersion = "9.2.4"

// ServerVersionNum is server_version_num of that base.
const ServerVersionNum = "90204"

// Options configure the front.
type Options struct {
	Listen      string // the lab's gauss address, e.g. 127.0.0.1:25432
	Socket      string // PostgreSQL's unix socket file, e.g. <dir>/.s.PGSQL.25432
	Users       Users
	Banner      string // what version() answers
	InitialUser string // the cluster's initial user: refused over TCP, as openGauss does
	Log         *slog.Logger
}

// Protocol versions openGauss's postmaster accepts (postmaster.cpp, ProcessStartupPacket):
// 3.0, 3.50 and 3.51 are relayed; 2.0 is openGauss's too, but the lab relays the
// version 3 protocol only.
var acceptedMinors = map[uint32]bool{0: true, 50: true, 51: true}

const (
	sslRequest    = 80877103
	gssEncRequest = 80877104
	cancelRequest = 80877102
)

// Serve accepts connections until ctx ends.
func Serve(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("gauss front: listen on %s: %w", o.Listen, err)
	}
	return serve(ctx, ln, o)
}

func serve(ctx context.Context, ln net.Listener, o Options) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	ctx, cancel := context.WithCancel(ctx)
	closeAll := func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
	}
	go func() { <-ctx.Done(); closeAll() }()
	defer wg.Wait()
	defer cancel() // whatever ends the loop ends the sessions too
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				o.Log.Warn("gauss front: accept, retrying", "err", err.Error())
				time.Sleep(backoff) // out of descriptors for a moment: sessions end and free them
				backoff = min(2*backoff, time.Second)
				continue
			}
			return fmt.Errorf("gauss front: accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		mu.Lock()
		open[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(open, c)
				mu.Unlock()
				c.Close()
			}()
			s := &session{o: o, client: c}
			if err := s.run(ctx); err != nil {
				o.Log.Info("gauss front: session ended", "client", c.RemoteAddr().String(), "why", err.Error())
			}
		}()
	}
}

type session struct {
	o        Options
	client   net.Conn
	server   net.Conn
	user     string // the role it authenticated
	database string
	// replication: a walsender session (replication=database), whose CopyData the
	// front lays out as openGauss does (replication.go).
	replication bool
	catMu       sync.Mutex          // guards catalog and uniq
	catalog     *dbx.DB             // PostgreSQL's socket, for uniqueColumns (nil until used)
	uniq        map[string][]string // uniqueColumns' cache

	mu      sync.Mutex // guards pending and batches
	pending []*roleChange
	batches []*batch // the client's sequences PostgreSQL has yet to end (toServer, toClient)
}

// run plays openGauss's startup and authentication, then relays the session to
// PostgreSQL through its socket, translating and refusing on the way.
func (s *session) run(ctx context.Context) error {
	s.client.SetDeadline(time.Now().Add(30 * time.Second)) // openGauss: authentication_timeout
	cr := bufio.NewReaderSize(s.client, 64<<10)
	version, params, err := s.startup(cr)
	if err != nil || params == nil {
		return err
	}
	user := params["user"]
	s.user, s.database = user, params["database"]
	s.replication = params["replication"] == "database"
	defer func() {
		if s.catalog != nil {
			s.catalog.Close()
		}
	}()
	if err := s.authenticate(cr, version&0xFFFF, user); err != nil {
		return err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	s.server, err = d.DialContext(ctx, "unix", s.o.Socket)
	if err != nil {
		s.fatal("08006", "xckit lab: the PostgreSQL behind the lab's gauss does not answer: "+err.Error(), "")
		return err
	}
	defer s.server.Close()
	if _, err := s.server.Write(startupMessage(params)); err != nil {
		return err
	}
	s.client.SetDeadline(time.Time{})
	done := make(chan error, 2)
	go func() { done <- s.toClient() }()
	go func() { done <- s.toServer(cr) }()
	err = <-done
	s.client.Close()
	s.server.Close()
	<-done
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// startup reads the startup packet; params is nil when the connection was a cancel
// request or ended before asking for a session.
func (s *session) startup(cr *bufio.Reader) (uint32, map[string]string, error) {
	for {
		var head [8]byte
		if _, err := io.ReadFull(cr, head[:]); err != nil {
			return 0, nil, err
		}
		n := binary.BigEndian.Uint32(head[:4])
		version := binary.BigEndian.Uint32(head[4:])
		if n < 8 || n > 10000 {
			return 0, nil, fmt.Errorf("startup packet of %d bytes", n)
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(cr, body); err != nil {
			return 0, nil, err
		}
		switch version {
		case sslRequest, gssEncRequest:
			if _, err := s.client.Write([]byte{'N'}); err != nil {
				return 0, nil, err
			}
			continue
		case cancelRequest:
			// BackendKeyData went through unchanged: PostgreSQL knows the key.
			c, err := net.DialTimeout("unix", s.o.Socket, 5*time.Second)
			if err != nil {
				return 0, nil, err
			}
			defer c.Close()
			_, err = c.Write(append(head[:], body...))
			return 0, nil, err
		}
		if version>>16 != 3 || !acceptedMinors[version&0xFFFF] {
			s.fatal("0A000", fmt.Sprintf("unsupported frontend protocol %d.%d.", version>>16, version&0xFFFF), "")
			return 0, nil, fmt.Errorf("protocol %d.%d refused", version>>16, version&0xFFFF)
		}
		params := map[string]string{}
		for b := body; len(b) > 1; {
			k, rest, ok := cut0(b)
			if !ok || k == "" {
				break
			}
			v, rest2, ok := cut0(rest)
			if !ok {
				break
			}
			params[k], b = v, rest2
		}
		if params["user"] == "" {
			s.fatal("28000", "no PostgreSQL user name specified in startup packet", "")
			return 0, nil, errors.New("no user")
		}
		if params["database"] == "" {
			params["database"] = params["user"]
		}
		return version, params, nil
	}
}

func cut0(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}

// authenticate asks for the role's sha256 or sm3 proof in the layout the client's
// protocol minor calls for, and checks it against the stored verifier.
func (s *session) authenticate(cr *bufio.Reader, minor uint32, user string) error {
	if user == s.o.InitialUser {
		// openGauss refuses its initial user from any address but loopback
		// (auth.cpp, isRemoteInitialUser); the lab's clients stand for the kit on
		// another host, as on site, so loopback counts as remote here.
		s.fatal("28000", "Forbid remote connection with initial user.", "")
		return fmt.Errorf("initial user %s refused over TCP", user)
	}
	v, ok, err := s.o.Users.Lookup(user)
	if err != nil {
		s.fatal("XX000", err.Error(), "")
		return err
	}
	if !ok {
		// Like openGauss, an unknown role gets a challenge all the same: a client cannot
		// tell it from a wrong password.
		if v, err = dbx.NewGaussVerifier(dbx.NewGaussToken(), false, DefaultIteration); err != nil {
			return err
		}
	}
	token := dbx.NewGaussToken()
	req, err := v.Request(token, int(minor))
	if err != nil {
		return err
	}
	if err := s.send('R', req); err != nil {
		return err
	}
	typ, body, err := readMessageMax(cr, maxAuthMessage)
	if err != nil {
		return err
	}
	if typ != 'p' || len(body) == 0 {
		s.fatal("08P01", fmt.Sprintf("expected password response, got message type %d", typ), "")
		return fmt.Errorf("message %q instead of a password", typ)
	}
	resp := string(body[:len(body)-1])
	if !ok || !v.Check(token, resp) {
		s.fatal("28P01", "Invalid username/password,login denied.", "")
		return fmt.Errorf("authentication of %s failed", user)
	}
	return nil
}

// startupMessage is the protocol 3.0 startup PostgreSQL gets, with the client's
// parameters (the socket's trust rule admits the role the front has authenticated).
func startupMessage(params map[string]string) []byte {
	b := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(b[4:], 3<<16)
	for k, v := range params {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, v...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[:4], uint32(len(b)))
	return b
}

func (s *session) send(typ byte, body []byte) error {
	_, err := s.client.Write(message(typ, body))
	return err
}

func message(typ byte, body []byte) []byte {
	out := make([]byte, 5, 5+len(body))
	out[0] = typ
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(body)))
	return append(out, body...)
}

// fatal sends an ErrorResponse of severity FATAL (the connection ends after it).
func (s *session) fatal(code, msg, hint string) {
	s.send('E', errorFields("FATAL", code, msg, hint))
}

func errorFields(severity, code, msg, hint string) []byte {
	var b []byte
	add := func(f byte, v string) {
		b = append(b, f)
		b = append(b, v...)
		b = append(b, 0)
	}
	add('S', severity)
	add('V', severity)
	add('C', code)
	add('M', msg)
	if hint != "" {
		add('H', hint)
	}
	return append(b, 0)
}

// maxAuthMessage bounds what an unauthenticated client may send (openGauss's 64-hex
// proof needs a few bytes).
const maxAuthMessage = 64 << 10

// readMessage reads one typed message (1 GB at most, as PostgreSQL allows).
func readMessage(r *bufio.Reader) (byte, []byte, error) { return readMessageMax(r, 1<<30) }

func readMessageMax(r *bufio.Reader, max uint32) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 || n > max {
		return 0, nil, fmt.Errorf("message %q of length %d", head[0], n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return head[0], body, nil
}

// uniqueColumns reads a table's unique-index columns in the session's database through
// PostgreSQL's socket, on a connection of the session's own (opened on first use,
// closed with the session), cached for the session.
func (s *session) uniqueColumns(table string) ([]string, error) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if cols, ok := s.uniq[table]; ok {
		return cols, nil
	}
	if s.catalog == nil {
		dsn := fmt.Sprintf("postgres://%s@localhost/%s?host=%s&port=%s", url.PathEscape(s.o.InitialUser), url.PathEscape(s.database),
			filepath.Dir(s.o.Socket), strings.TrimPrefix(filepath.Ext(s.o.Socket), "."))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		db, err := dbx.Open(ctx, dsn, dbx.Options{AppName: "xckit-lab-front", MaxOpenConns: 1})
		if err != nil {
			return nil, err
		}
		s.catalog = db
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cols, err := s.catalog.Strings(ctx, s.catalog.Dialect.UniqueColumnsSQL(), table)
	if err != nil {
		return nil, err
	}
	if s.uniq == nil {
		s.uniq = map[string][]string{}
	}
	s.uniq[table] = cols
	return cols, nil
}
