package dbx

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xckit/xckit/internal/nettest"
)

// fakeGauss is the one fake in this package: openGauss cannot run here, so a listener
// plays its startup exchange byte for byte and then answers one simple query with an
// openGauss version banner. Like openGauss's sendAuthRequest (src/common/backend/
// libpq/auth.cpp), it lays out a code 10/13 request by the protocol minor the client
// announced: after salt and token the 64-character server signature below 50, nothing
// at 50, the int32 stored iteration count above 50.
type fakeGauss struct {
	ln      net.Listener
	request func(minor uint32) []byte // the authentication request body, from the int32 code on
	got     chan string
	version chan uint32 // the protocol version the client announced
	banner  string
}

// gaussLayout builds a sha256/sm3 request the way openGauss does for a client minor.
func gaussLayout(code uint32, v authVector) func(minor uint32) []byte {
	return func(minor uint32) []byte {
		tail := [][]byte{[]byte(v.Random64), []byte(v.Token)}
		switch {
		case minor < 50:
			tail = append(tail, []byte(v.ServerSig))
		case minor > 50:
			tail = append(tail, binary.BigEndian.AppendUint32(nil, uint32(v.Iteration)))
		}
		return gaussRequest(code, gaussStoredSHA256, tail...)
	}
}

func fixed(b []byte) func(uint32) []byte { return func(uint32) []byte { return b } }

func startFakeGauss(t *testing.T, request func(minor uint32) []byte, banner string) *fakeGauss {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGauss{ln: ln, request: request, got: make(chan string, 1), version: make(chan uint32, 1), banner: banner}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

func (f *fakeGauss) serve() {
	conn, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The startup message by hand: pgproto3's backend refuses minors other than 0.
	head4 := make([]byte, 4)
	if _, err := io.ReadFull(conn, head4); err != nil {
		f.got <- "startup: " + err.Error()
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(head4)-4)
	if _, err := io.ReadFull(conn, startup); err != nil {
		f.got <- "startup: " + err.Error()
		return
	}
	version := binary.BigEndian.Uint32(startup)
	f.version <- version
	be := pgproto3.NewBackend(conn, conn)
	request := f.request(version & 0xFFFF)
	msg := []byte{'R'}
	msg = binary.BigEndian.AppendUint32(msg, uint32(4+len(request)))
	msg = append(msg, request...)
	if _, err := conn.Write(msg); err != nil {
		return
	}
	// Read the raw password message: 'p', int32 length, response, NUL.
	head := make([]byte, 5)
	if _, err := io.ReadFull(conn, head); err != nil || head[0] != 'p' {
		f.got <- "no password message"
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		f.got <- "short password message"
		return
	}
	f.got <- string(body[:len(body)-1])
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "9.2.4"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return
	}
	for {
		m, err := be.Receive()
		if err != nil {
			return
		}
		switch m.(type) {
		case *pgproto3.Query:
			be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("version"), DataTypeOID: 25, Format: 0, DataTypeSize: -1, TypeModifier: -1}}})
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(f.banner)}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		case *pgproto3.Terminate:
			return
		}
	}
}

func gaussRequest(code, method uint32, tail ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, code)
	if code != authMD5SHA256 {
		b = binary.BigEndian.AppendUint32(b, method)
	}
	for _, t := range tail {
		b = append(b, t...)
	}
	return b
}

func TestPgxThroughGaussHandshake(t *testing.T) {
	t.Parallel()
	vec := sharedVectors(t)
	salt := []byte{1, 2, 3, 4}
	cases := []struct {
		name, password, want string
		request              func(uint32) []byte
		wantErr              string
	}{
		{"sha256, stored iteration 10000 (the default)", vec[2].Password, vec[2].Response, gaussLayout(authSHA256, vec[2]), ""},
		{"sha256, stored iteration 2048", vec[0].Password, vec[0].Response, gaussLayout(authSHA256, vec[0]), ""},
		{"sm3, stored iteration 10000", vec[3].Password, vec[3].Response, gaussLayout(authSM3, vec[3]), ""},
		{"md5_sha256", vec[6].Password, vec[6].Response, fixed(gaussRequest(authMD5SHA256, 0, []byte(vec[6].Random64), salt)), ""},
		{"md5 storage under code 10 (no openGauss sends it)", vec[7].Password, "", fixed(gaussRequest(authSHA256, gaussStoredMD5, salt)), "do not send"},
		{"an iteration count beyond openGauss's maximum", vec[2].Password, "",
			fixed(gaussRequest(authSHA256, gaussStoredSHA256, []byte(vec[2].Random64), []byte(vec[2].Token), binary.BigEndian.AppendUint32(nil, maxGaussIteration+1))), "outside openGauss's"},
		{"the 3.0 layout (a signature where the count should be)", vec[2].Password, "",
			fixed(gaussRequest(authSHA256, gaussStoredSHA256, []byte(vec[2].Random64), []byte(vec[2].Token), []byte(vec[2].ServerSig))), "outside openGauss's"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			banner := "PostgreSQL 9.2.4 (openGauss 5.0.0 build a07d57c3) compiled at 2023-03-29 03:07:56 commit 0 last mr"
			f := startFakeGauss(t, tc.request, banner)
			cfg, err := pgconn.ParseConfig("postgres://pay@" + f.ln.Addr().String() + "/payd?sslmode=disable")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Password = tc.password
			cfg.AfterNetConnect = func(ctx context.Context, c *pgconn.Config, conn net.Conn) (net.Conn, error) {
				return newGaussAuthConn(ctx, conn, c.User, c.Password), nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgconn.ConnectConfig(ctx, cfg)
			if v := <-f.version; v != gaussProtocol {
				t.Errorf("the client announced protocol %d.%d, want 3.51 as openGauss's clients do", v>>16, v&0xFFFF)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("connect: %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect through the openGauss handshake: %v (server saw %q)", err, drain(f.got))
			}
			defer conn.Close(ctx)
			if got := <-f.got; got != tc.want {
				t.Errorf("password message = %q, want %q", got, tc.want)
			}
			res, err := conn.Exec(ctx, "SELECT version()").ReadAll()
			if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
				t.Fatalf("query after auth: %v", err)
			}
			d, err := DetectDialect(FamilyPostgres, string(res[0].Rows[0][0]))
			if err != nil || d.Engine != OpenGauss || d.Version != "5.0.0" {
				t.Errorf("dialect = %+v, %v; want openGauss 5.0.0", d, err)
			}
		})
	}
}

// A connect to a server that accepts and never answers, or that makes the key
// derivation last, ends within the connect deadline with an error that says so.
func TestConnectDeadline(t *testing.T) {
	t.Parallel()
	silent := nettest.Silent(t)
	vec := sharedVectors(t)
	slow := vec[2]
	slow.Iteration = maxGaussIteration // minutes of PBKDF2 on this machine
	f := startFakeGauss(t, gaussLayout(authSHA256, slow), "openGauss")
	for name, addr := range map[string]string{"silent": silent, "slow proof": f.ln.Addr().String()} {
		start := time.Now()
		_, err := Open(context.Background(), "opengauss://pay:pw@"+addr+"/payd", Options{ConnectTimeout: 2 * time.Second})
		took := time.Since(start)
		if err == nil || took > 4*time.Second {
			t.Errorf("%s: connect returned after %v: %v", name, took, err)
		}
		if err != nil && !strings.Contains(err.Error(), "connect timeout of 2s") {
			t.Errorf("%s: the error does not name the deadline: %v", name, err)
		}
	}
}

func drain(ch chan string) string {
	select {
	case s := <-ch:
		return s
	default:
		return ""
	}
}

// openGauss refuses its initial user over TCP (auth.cpp, ClientAuthentication:
// ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "Forbid remote connection with initial
// user."): the error says to give another administrator.
func TestInitialUserRefusalNamesTheFix(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		head := make([]byte, 4)
		if _, err := io.ReadFull(conn, head); err != nil {
			return
		}
		io.ReadFull(conn, make([]byte, binary.BigEndian.Uint32(head)-4))
		be := pgproto3.NewBackend(conn, conn)
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28000", Message: "Forbid remote connection with initial user."})
		be.Flush()
	}()
	_, err = Open(context.Background(), "opengauss://omm:pw@"+ln.Addr().String()+"/postgres", Options{ConnectTimeout: 3 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "create another administrator") || !strings.Contains(err.Error(), "--admin-db") {
		t.Fatalf("initial user refused: %v", err)
	}
}
