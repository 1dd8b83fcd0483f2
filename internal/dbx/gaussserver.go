package dbx

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
)

// The server's half of openGauss's sha256/sm3 handshake, for the lab's gauss front
// (openGauss cannot run here). The client's half is gaussSHA256Response; both follow
// openGauss's RFC 5802-style exchange: the server stores salt, iteration count,
// StoredKey = H(ClientKey) and ServerKey; the client proves it knows ClientKey by
// sending HMAC(StoredKey, token) XOR ClientKey, and the server recovers ClientKey and
// checks H(ClientKey) == StoredKey (H is SHA-256, or SM3 for sm3 storage).

// GaussVerifier is what an openGauss server keeps for a password: never the password.
type GaussVerifier struct {
	SM3       bool   `json:"sm3,omitempty"`
	Salt      string `json:"salt"` // 64 hex characters, sent to the client as random64code
	Iteration int    `json:"iteration"`
	StoredKey string `json:"stored_key"` // hex
	ServerKey string `json:"server_key"` // hex
}

// NewGaussVerifier derives the stored verifier of a password with a fresh salt, as
// openGauss does when a role's password is set (auth_iteration_count iterations).
func NewGaussVerifier(password string, useSM3 bool, iteration int) (GaussVerifier, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return GaussVerifier{}, err
	}
	v := GaussVerifier{SM3: useSM3, Salt: hex.EncodeToString(salt), Iteration: iteration}
	_, serverKey, storedKey, err := gaussKeys(context.Background(), password, v.Salt, iteration, useSM3)
	if err != nil {
		return GaussVerifier{}, err
	}
	v.StoredKey, v.ServerKey = hex.EncodeToString(storedKey), hex.EncodeToString(serverKey)
	return v, nil
}

// NewGaussToken is the per-login random token: 4 bytes, sent as 8 hex characters.
func NewGaussToken() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Request is the body of the server's authentication request (from the int32 code on)
// for a client that announced protocol 3.minor: code 10 (sha256) or 13 (sm3), the
// stored method, random64code and token, then the server signature when minor < 50,
// nothing at 50, the stored iteration count above 50 (auth.cpp, sendAuthRequest).
func (v GaussVerifier) Request(token string, minor int) ([]byte, error) {
	code := uint32(authSHA256)
	if v.SM3 {
		code = authSM3
	}
	out := binary.BigEndian.AppendUint32(nil, code)
	method := uint32(gaussStoredSHA256)
	if v.SM3 {
		method = gaussStoredSM3
	}
	out = binary.BigEndian.AppendUint32(out, method)
	out = append(out, v.Salt...)
	out = append(out, token...)
	switch {
	case minor < 50:
		key, err := hex.DecodeString(v.ServerKey)
		if err != nil {
			return nil, fmt.Errorf("server key is not hex: %w", err)
		}
		sig, err := serverSignature(key, token)
		if err != nil {
			return nil, err
		}
		out = append(out, sig...)
	case minor > 50:
		out = binary.BigEndian.AppendUint32(out, uint32(v.Iteration))
	}
	return out, nil
}

// Check reports whether a client's response (64 hex characters) to token proves the
// password behind the verifier.
func (v GaussVerifier) Check(token, response string) bool {
	stored, err1 := hex.DecodeString(v.StoredKey)
	t, err2 := hex.DecodeString(token)
	proof, err3 := hex.DecodeString(response)
	if err1 != nil || err2 != nil || err3 != nil || len(proof) != sha256.Size {
		return false
	}
	clientKey := hmacSHA256(stored, t)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	var h []byte
	if v.SM3 {
		s := sm3.Sum(clientKey)
		h = s[:]
	} else {
		s := sha256.Sum256(clientKey)
		h = s[:]
	}
	return hmac.Equal(h, stored)
}
