package platform

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/xckit/xckit/internal/dbx"
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
	nonces nonceStore
}

// Nonce is a signed request's nonce, to be spent once within its window.
type Nonce struct {
	Merchant, Value string
	Until           time.Time
}

// verify returns the merchant and the request's nonce (not spent yet), or an API
// error code and message.
func (v *verifier) verify(r *http.Request, body []byte) (string, Nonce, *apiError) {
	merchant := r.Header.Get(HeaderMerchant)
	ts, nonce, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature)
	if merchant == "" || ts == "" || nonce == "" || sig == "" {
		return "", Nonce{}, errUnauthorized("signature_missing", "send "+HeaderMerchant+", "+HeaderTimestamp+", "+HeaderNonce+" and "+HeaderSignature)
	}
	key, ok := v.keys[merchant]
	if !ok {
		return "", Nonce{}, errUnauthorized("unknown_merchant", "merchant "+strconv.Quote(merchant)+" is not configured")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", Nonce{}, errUnauthorized("bad_timestamp", HeaderTimestamp+" must be Unix seconds")
	}
	if d := v.now().Sub(time.Unix(sec, 0)); d > v.skew || d < -v.skew {
		return "", Nonce{}, errUnauthorized("timestamp_out_of_window", "timestamp is more than "+v.skew.String()+" away from the server's clock")
	}
	if len(nonce) < 8 || len(nonce) > 64 {
		return "", Nonce{}, errUnauthorized("bad_nonce", HeaderNonce+" must be 8 to 64 characters")
	}
	want, ok := Sign(r.Header.Get(HeaderSignMethod), key, r.Method, r.URL.Path, ts, nonce, body)
	if !ok {
		return "", Nonce{}, errUnauthorized("bad_sign_method", HeaderSignMethod+" must be hmac-sha256 or hmac-sm3")
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return "", Nonce{}, errUnauthorized("bad_signature", "the signature does not match the request")
	}
	return merchant, Nonce{Merchant: merchant, Value: nonce, Until: v.now().Add(2 * v.skew)}, nil
}

// spend spends a nonce on its own (requests other than payments, which spend theirs
// inside their own transaction).
func (v *verifier) spend(ctx context.Context, n Nonce) *apiError {
	fresh, err := v.nonces.spend(ctx, n.Merchant, n.Value, n.Until)
	if err != nil {
		return errNonceStore(err)
	}
	if !fresh {
		return errReplayedNonce()
	}
	return nil
}

func errNonceStore(err error) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "nonce_store_unavailable", Msg: "the replay guard could not be consulted: retry", cause: err}
}

func errReplayedNonce() *apiError {
	return errUnauthorized("replayed_nonce", "this nonce was already used")
}

// nonceStore spends a nonce: false when it was spent within its window already.
type nonceStore interface {
	spend(ctx context.Context, merchant, nonce string, until time.Time) (bool, error)
}

// dbNonces keeps nonces in the platform's database (table xc_nonces) until their
// timestamps leave the accepted window, so a replay is refused after a restart and by
// every payd on the same database. Expired nonces are pruned at most once a minute.
type dbNonces struct {
	db     *dbx.DB
	insert string
	reuse  string
	pruneQ string
	mu     sync.Mutex
	pruned time.Time
}

func newDBNonces(db *dbx.DB) *dbNonces {
	ph := db.Dialect.Placeholder
	return &dbNonces{db: db,
		insert: "INSERT INTO xc_nonces (merchant, nonce, expires_at) VALUES (" + db.Dialect.Placeholders(1, 3) + ")",
		reuse:  "UPDATE xc_nonces SET expires_at = " + ph(1) + " WHERE merchant = " + ph(2) + " AND nonce = " + ph(3) + " AND expires_at < " + ph(4),
		pruneQ: "DELETE FROM xc_nonces WHERE expires_at < " + ph(1),
	}
}

func (n *dbNonces) spend(ctx context.Context, merchant, nonce string, until time.Time) (bool, error) {
	now := time.Now().UTC()
	until = until.UTC()
	n.mu.Lock()
	prune := now.Sub(n.pruned) > time.Minute
	if prune {
		n.pruned = now
	}
	n.mu.Unlock()
	if prune {
		if err := n.prune(ctx); err != nil {
			return false, err
		}
	}
	_, err := n.db.ExecContext(ctx, n.insert, merchant, nonce, until)
	if err == nil {
		return true, nil
	}
	if !dbx.IsUniqueViolation(err) {
		return false, fmt.Errorf("spend nonce: %w", err)
	}
	// Used before: allowed again only once its window has passed.
	res, err := n.db.ExecContext(ctx, n.reuse, until, merchant, nonce, now)
	if err != nil {
		return false, fmt.Errorf("spend nonce: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// prune deletes the nonces whose window has passed.
func (n *dbNonces) prune(ctx context.Context) error {
	if _, err := n.db.ExecContext(ctx, n.pruneQ, time.Now().UTC()); err != nil {
		return fmt.Errorf("prune nonces: %w", err)
	}
	return nil
}
