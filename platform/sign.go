package platform

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Request signing (see docs/api.md): the signature is the lowercase hex HMAC, with
// SHA-256 (default) or SM3, of METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" BODY.
const (
	HeaderMerchant   = "X-Xc-Merchant"
	HeaderTimestamp  = "X-Xc-Timestamp"
	HeaderNonce      = "X-Xc-Nonce"
	HeaderSignature  = "X-Xc-Signature"
	HeaderSignMethod = "X-Xc-Sign-Method"

	SignHMACSHA256 = "hmac-sha256"
	SignHMACSM3    = "hmac-sm3"
)

// Sign computes a request signature.
func Sign(method, key, httpMethod, path, timestamp, nonce string, body []byte) (string, bool) {
	var h func() hash.Hash
	switch method {
	case "", SignHMACSHA256:
		h = sha256.New
	case SignHMACSM3:
		h = sm3.New
	default:
		return "", false
	}
	m := hmac.New(h, []byte(key))
	m.Write([]byte(httpMethod + "\n" + path + "\n" + timestamp + "\n" + nonce + "\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil)), true
}

// SignRequest adds the signing headers to r for body.
func SignRequest(r *http.Request, merchant, key, method string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randomHex(12)
	sig, _ := Sign(method, key, r.Method, r.URL.Path, ts, nonce, body)
	r.Header.Set(HeaderMerchant, merchant)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, sig)
	if method != "" {
		r.Header.Set(HeaderSignMethod, method)
	}
}

// verifier checks signatures, timestamps and nonces.
type verifier struct {
	keys   map[string]string
	skew   time.Duration
	now    func() time.Time
	nonces *nonceCache
}

// verify returns the merchant, or an API error code and message.
func (v *verifier) verify(r *http.Request, body []byte) (string, *apiError) {
	merchant := r.Header.Get(HeaderMerchant)
	ts, nonce, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature)
	if merchant == "" || ts == "" || nonce == "" || sig == "" {
		return "", errUnauthorized("signature_missing", "send "+HeaderMerchant+", "+HeaderTimestamp+", "+HeaderNonce+" and "+HeaderSignature)
	}
	key, ok := v.keys[merchant]
	if !ok {
		return "", errUnauthorized("unknown_merchant", "merchant "+strconv.Quote(merchant)+" is not configured")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", errUnauthorized("bad_timestamp", HeaderTimestamp+" must be Unix seconds")
	}
	if d := v.now().Sub(time.Unix(sec, 0)); d > v.skew || d < -v.skew {
		return "", errUnauthorized("timestamp_out_of_window", "timestamp is more than "+v.skew.String()+" away from the server's clock")
	}
	if len(nonce) < 8 || len(nonce) > 64 {
		return "", errUnauthorized("bad_nonce", HeaderNonce+" must be 8 to 64 characters")
	}
	want, ok := Sign(r.Header.Get(HeaderSignMethod), key, r.Method, r.URL.Path, ts, nonce, body)
	if !ok {
		return "", errUnauthorized("bad_sign_method", HeaderSignMethod+" must be hmac-sha256 or hmac-sm3")
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return "", errUnauthorized("bad_signature", "the signature does not match the request")
	}
	// Only a request with a valid signature may spend a nonce.
	if !v.nonces.add(merchant+"\x00"+nonce, v.now().Add(2*v.skew)) {
		return "", errUnauthorized("replayed_nonce", "this nonce was already used")
	}
	return merchant, nil
}

// nonceCache remembers nonces until their timestamps leave the accepted window.
type nonceCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	pruned time.Time
}

func newNonceCache() *nonceCache { return &nonceCache{seen: map[string]time.Time{}} }

func (c *nonceCache) add(key string, until time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.pruned) > time.Minute {
		for k, exp := range c.seen {
			if now.After(exp) {
				delete(c.seen, k)
			}
		}
		c.pruned = now
	}
	if exp, ok := c.seen[key]; ok && now.Before(exp) {
		return false
	}
	c.seen[key] = until
	return true
}
