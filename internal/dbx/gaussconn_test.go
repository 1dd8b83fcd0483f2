package dbx

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// fakeGauss is the one fake in this package: openGauss cannot run here, so a listener
// plays its startup exchange byte for byte (wire format from the shared auth-vectors
// file) and then answers one simple query with an openGauss version banner.
type fakeGauss struct {
	ln      net.Listener
	request []byte // the authentication request body, starting with the int32 code
	got     chan string
	banner  string
}

func startFakeGauss(t *testing.T, request []byte, banner string) *fakeGauss {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGauss{ln: ln, request: request, got: make(chan string, 1), banner: banner}
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
	be := pgproto3.NewBackend(conn, conn)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		f.got <- "startup: " + err.Error()
		return
	}
	msg := []byte{'R'}
	msg = binary.BigEndian.AppendUint32(msg, uint32(4+len(f.request)))
	msg = append(msg, f.request...)
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
	iter := func(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	salt := []byte{1, 2, 3, 4}
	cases := []struct {
		name, password, want string
		request              []byte
	}{
		{"sha256 with iteration", vec[2].Password, vec[2].Response,
			gaussRequest(authSHA256, gaussStoredSHA256, []byte(vec[2].Random64), []byte(vec[2].Token), iter(vec[2].Iteration))},
		{"sha256 without iteration (older servers: 2048)", vec[0].Password, vec[0].Response,
			gaussRequest(authSHA256, gaussStoredSHA256, []byte(vec[0].Random64), []byte(vec[0].Token))},
		{"sm3", vec[3].Password, vec[3].Response,
			gaussRequest(authSM3, gaussStoredSHA256, []byte(vec[3].Random64), []byte(vec[3].Token), iter(vec[3].Iteration))},
		{"md5_sha256", vec[6].Password, vec[6].Response,
			gaussRequest(authMD5SHA256, 0, []byte(vec[6].Random64), salt)},
		{"md5 storage announced in code 10", vec[7].Password, vec[7].Response,
			gaussRequest(authSHA256, gaussStoredMD5, salt)},
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
			cfg.AfterNetConnect = func(_ context.Context, c *pgconn.Config, conn net.Conn) (net.Conn, error) {
				return newGaussAuthConn(conn, c.User, c.Password), nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgconn.ConnectConfig(ctx, cfg)
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

func drain(ch chan string) string {
	select {
	case s := <-ch:
		return s
	default:
		return ""
	}
}
