package dbx

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type authVector struct {
	Method    string `json:"method"`
	User      string `json:"user"`
	Password  string `json:"password"`
	Random64  string `json:"random64code"`
	Token     string `json:"token"`
	Iteration int    `json:"iteration"`
	SaltHex   string `json:"salt_hex"`
	Response  string `json:"response"`
	ServerSig string `json:"server_signature"`
}

// sharedVectors reads testdata/opengauss-auth-vectors.json, computed independently of
// this code from openGauss's client algorithm (the project's reference vectors, carried
// in the repository so that a clone tests on its own).
func sharedVectors(t *testing.T) []authVector {
	t.Helper()
	path := filepath.Join("testdata", "opengauss-auth-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the reference vectors: %v", err)
	}
	var doc struct {
		Vectors []authVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(doc.Vectors) < 8 {
		t.Fatalf("%s has %d vectors, want at least 8", path, len(doc.Vectors))
	}
	return doc.Vectors
}

func TestGaussAuthVectors(t *testing.T) {
	t.Parallel()
	for i, v := range sharedVectors(t) {
		t.Run(v.Method+"/"+v.Password, func(t *testing.T) {
			var got string
			var err error
			switch v.Method {
			case "sha256", "sm3":
				ch := GaussChallenge{Random64Code: v.Random64, Token: v.Token, Iteration: v.Iteration}
				got, err = GaussSHA256Response(v.Password, ch, v.Method == "sm3")
				if err == nil && v.ServerSig != "" {
					sig, err := GaussServerSignature(v.Password, ch)
					if err != nil || sig != v.ServerSig {
						t.Errorf("vector %d: server signature = %s, %v; want %s", i, sig, err, v.ServerSig)
					}
				}
			case "md5_sha256":
				salt, _ := hex.DecodeString(v.SaltHex)
				got, err = GaussMD5SHA256Response(v.Password, v.Random64, salt)
			case "md5":
				salt, _ := hex.DecodeString(v.SaltHex)
				got = PostgresMD5Response(v.User, v.Password, salt)
			default:
				t.Fatalf("vector %d: unknown method %q", i, v.Method)
			}
			if err != nil {
				t.Fatalf("vector %d: %v", i, err)
			}
			if got != v.Response {
				t.Errorf("vector %d (%s): response = %s, want %s", i, v.Method, got, v.Response)
			}
		})
	}
}

func TestGaussAnswerLeavesPostgresAlone(t *testing.T) {
	t.Parallel()
	sasl := append([]byte{0, 0, 0, 10}, []byte("SCRAM-SHA-256\x00\x00")...)
	if _, handled, err := gaussAnswer(context.Background(), sasl, "u", "p"); handled || err != nil {
		t.Fatalf("PostgreSQL SASL request was taken as openGauss's: handled=%v err=%v", handled, err)
	}
	md5req := []byte{0, 0, 0, 5, 1, 2, 3, 4}
	if _, handled, _ := gaussAnswer(context.Background(), md5req, "u", "p"); handled {
		t.Fatal("PostgreSQL md5 request must reach pgx untouched")
	}
	short := []byte{0, 0, 0, 10, 0, 0, 0, 2, 'a'}
	if _, handled, err := gaussAnswer(context.Background(), short, "u", "p"); !handled || err == nil {
		t.Fatalf("truncated openGauss request: handled=%v err=%v, want a clear error", handled, err)
	}
}

// The server's half (the lab's front) and the client's half agree: a verifier made
// from a password accepts the client's proof in the 3.51 layout, with the stored count,
// for sha256 and sm3, and refuses a wrong password.
func TestGaussVerifierRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sm := range []bool{false, true} {
		v, err := NewGaussVerifier("Pay-pw-2026", sm, 4096)
		if err != nil {
			t.Fatal(err)
		}
		token := NewGaussToken()
		req, err := v.Request(token, gaussProtocolMinor)
		if err != nil {
			t.Fatal(err)
		}
		if got := requestMethod(req); !strings.Contains(got, "4096 iterations") {
			t.Errorf("sm3=%v: method %q", sm, got)
		}
		for _, c := range []struct {
			password string
			ok       bool
		}{{"Pay-pw-2026", true}, {"Pay-pw-2027", false}} {
			reply, handled, err := gaussAnswer(context.Background(), req, "pay", c.password)
			if err != nil || !handled {
				t.Fatalf("sm3=%v: answer: %v %v", sm, handled, err)
			}
			if got := v.Check(token, reply); got != c.ok {
				t.Errorf("sm3=%v password %q: check %v, want %v", sm, c.password, got, c.ok)
			}
		}
		// The layouts of the older minors: 72 bytes at 3.50, the signature below it.
		for minor, size := range map[int]int{50: 8 + 72, 0: 8 + 72 + 64} {
			req, err := v.Request(token, minor)
			if err != nil || len(req) != size {
				t.Errorf("sm3=%v minor %d: %d bytes, want %d (%v)", sm, minor, len(req), size, err)
			}
		}
	}
}
