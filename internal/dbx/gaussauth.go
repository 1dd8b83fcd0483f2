package dbx

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
)

// openGauss password storage methods announced in its code-10 request.
const (
	gaussStoredPlain  = 0
	gaussStoredMD5    = 1
	gaussStoredSHA256 = 2
	gaussStoredSM3    = 3
)

// Authentication request codes that openGauss uses differently from PostgreSQL.
const (
	authSHA256    = 10 // PostgreSQL: SASL
	authMD5SHA256 = 11 // PostgreSQL: SASLContinue
	authSM3       = 13
	authMD5       = 5
	authOK        = 0
)

// The protocol version xckit announces, as openGauss's own libpq, JDBC driver and Go
// connector do (3.51 = 196659): openGauss then sends the stored iteration count after
// the token of a code 10/13 request (auth.cpp, sendAuthRequest: minor > 50). PostgreSQL
// answers a minor it does not know with NegotiateProtocolVersion, which pgx accepts.
const (
	protocol30         = 3<<16 | 0
	gaussProtocolMinor = 51
	gaussProtocol      = 3<<16 | gaussProtocolMinor
)

// maxGaussIteration is the largest auth_iteration_count openGauss accepts
// (guc_security.cpp); a larger count is a misread request, not a server's choice.
const maxGaussIteration = 134217728

// md5SHA256Iteration is the count of openGauss's code-11 (md5_sha256) exchange.
const md5SHA256Iteration = 2048

// GaussChallenge is what an openGauss server sends to ask for a sha256 or sm3 proof.
type GaussChallenge struct {
	Random64Code string // 64 hex characters
	Token        string // 8 hex characters
	Iteration    int
}

// gaussKeys derives the client, server and stored keys of the openGauss handshake.
func gaussKeys(ctx context.Context, password string, random64code string, iteration int, sm bool) (clientKey, serverKey, storedKey []byte, err error) {
	salt, err := hex.DecodeString(random64code)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("openGauss auth: random64code is not hex: %w", err)
	}
	if iteration <= 0 || iteration > maxGaussIteration {
		return nil, nil, nil, fmt.Errorf("openGauss auth: iteration count %d is outside openGauss's 1..%d: the request was misread or is not openGauss's", iteration, maxGaussIteration)
	}
	k, err := pbkdf2SHA1(ctx, []byte(password), salt, iteration, 32)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("openGauss auth: derive key: %w", err)
	}
	// sic: sha256 spells it "Sever Key" (sha2.cpp, pg_sha256_encrypt); sm3 "Server Key"
	// (GsSm3Encrypt). The proof needs only the client key; the server key signs.
	serverKey = hmacSHA256(k, []byte("Sever Key"))
	if sm {
		serverKey = hmacSHA256(k, []byte("Server Key"))
	}
	clientKey = hmacSHA256(k, []byte("Client Key"))
	if sm {
		s := sm3.Sum(clientKey)
		storedKey = s[:]
	} else {
		s := sha256.Sum256(clientKey)
		storedKey = s[:]
	}
	return clientKey, serverKey, storedKey, nil
}

// GaussSHA256Response answers an openGauss sha256 (sm=false) or sm3 (sm=true)
// challenge: 64 lowercase hex characters.
func GaussSHA256Response(password string, ch GaussChallenge, sm bool) (string, error) {
	return gaussSHA256Response(context.Background(), password, ch, sm)
}

func gaussSHA256Response(ctx context.Context, password string, ch GaussChallenge, sm bool) (string, error) {
	clientKey, _, storedKey, err := gaussKeys(ctx, password, ch.Random64Code, ch.Iteration, sm)
	if err != nil {
		return "", err
	}
	token, err := hex.DecodeString(ch.Token)
	if err != nil {
		return "", fmt.Errorf("openGauss auth: token is not hex: %w", err)
	}
	h := hmacSHA256(storedKey, token)
	for i := range h {
		h[i] ^= clientKey[i]
	}
	return hex.EncodeToString(h), nil
}

// GaussServerSignature is the signature a genuine server can prove it knows the
// password with; xckit computes it for tests and for servers that send one.
func GaussServerSignature(password string, ch GaussChallenge) (string, error) {
	_, serverKey, _, err := gaussKeys(context.Background(), password, ch.Random64Code, ch.Iteration, false)
	if err != nil {
		return "", err
	}
	return serverSignature(serverKey, ch.Token)
}

// serverSignature is HMAC-SHA256(ServerKey, token), in hex (the 3.0 layout sends it).
func serverSignature(serverKey []byte, token string) (string, error) {
	t, err := hex.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("openGauss auth: token is not hex: %w", err)
	}
	return hex.EncodeToString(hmacSHA256(serverKey, t)), nil
}

// GaussMD5SHA256Response answers openGauss's code-11 (md5_sha256) challenge.
func GaussMD5SHA256Response(password, random64code string, salt []byte) (string, error) {
	_, serverKey, storedKey, err := gaussKeys(context.Background(), password, random64code, md5SHA256Iteration, false)
	if err != nil {
		return "", err
	}
	m := md5.New()
	m.Write([]byte(random64code))
	m.Write([]byte(hex.EncodeToString(serverKey)))
	m.Write([]byte(hex.EncodeToString(storedKey)))
	m.Write(salt)
	return "md5" + hex.EncodeToString(m.Sum(nil)), nil
}

// PostgresMD5Response is PostgreSQL's md5 answer: "md5" + md5(md5(password+user) + salt).
func PostgresMD5Response(user, password string, salt []byte) string {
	inner := md5.Sum([]byte(password + user))
	outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), salt...))
	return "md5" + hex.EncodeToString(outer[:])
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// gaussAnswer computes the reply to one openGauss authentication request body (the
// bytes after the message length, starting with the int32 code). handled is false
// when the request is PostgreSQL's and must reach pgx untouched.
func gaussAnswer(ctx context.Context, body []byte, user, password string) (reply string, handled bool, err error) {
	if len(body) < 4 {
		return "", false, nil
	}
	code := binary.BigEndian.Uint32(body)
	rest := body[4:]
	switch code {
	case authSHA256, authSM3:
		if len(rest) < 4 {
			return "", false, nil
		}
		method := binary.BigEndian.Uint32(rest)
		if code == authSHA256 && method > gaussStoredSHA256 {
			return "", false, nil // PostgreSQL SASL: a mechanism name, not a method number
		}
		rest = rest[4:]
		if method == gaussStoredMD5 {
			// openGauss's server turns this case into a plain md5 request (code 5)
			// before sending (auth.cpp, sendAuthRequest), and its JDBC driver and Go
			// connector answer it differently: there is no genuine answer to give.
			return "", true, fmt.Errorf("openGauss auth: the server asked for md5 storage under code 10, which openGauss servers do not send; " +
				"check that this is an openGauss server, or reset the user's password with password_encryption_type=2")
		}
		// The layout that matches protocol 3.51: random64code, token, int32 iteration.
		// Exactly 72 bytes is a server older than that layout: its fixed count, 2048.
		ch := GaussChallenge{Iteration: md5SHA256Iteration}
		switch {
		case len(rest) >= 76:
			ch.Iteration = int(binary.BigEndian.Uint32(rest[72:76]))
		case len(rest) != 72:
			return "", true, fmt.Errorf("openGauss auth: sha256 request is %d bytes, want 76 (salt, token and iteration count, protocol 3.%d)", len(rest), gaussProtocolMinor)
		}
		ch.Random64Code, ch.Token = string(rest[:64]), string(rest[64:72])
		r, err := gaussSHA256Response(ctx, password, ch, code == authSM3)
		return r, true, err
	case authMD5SHA256:
		if len(rest) < 68 {
			return "", true, fmt.Errorf("openGauss auth: md5_sha256 request is %d bytes, want 68", len(rest))
		}
		r, err := GaussMD5SHA256Response(password, string(rest[:64]), rest[64:68])
		return r, true, err
	}
	return "", false, nil
}

// pbkdf2SHA1 is PBKDF2 (RFC 8018) with HMAC-SHA1, as openGauss derives its keys; unlike
// the library's, it stops when ctx ends (a count up to 134217728 takes minutes).
func pbkdf2SHA1(ctx context.Context, password, salt []byte, iter, keyLen int) ([]byte, error) {
	prf := hmac.New(sha1.New, password)
	var out []byte
	for block := uint32(1); len(out) < keyLen; block++ {
		prf.Reset()
		prf.Write(salt)
		prf.Write(binary.BigEndian.AppendUint32(nil, block))
		u := prf.Sum(nil)
		t := append([]byte(nil), u...)
		for i := 1; i < iter; i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for k := range t {
				t[k] ^= u[k]
			}
		}
		out = append(out, t...)
	}
	return out[:keyLen], nil
}
