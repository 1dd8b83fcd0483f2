package platform

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// Payment types and outcomes.
const (
	Debit  = "debit"
	Credit = "credit"

	StatusSucceeded = "succeeded"
	StatusRefused   = "refused"

	AgreementActive     = "active"
	AgreementTerminated = "terminated"
)

// Refusal is a business refusal (HTTP 422): the request was understood and declined.
type Refusal struct {
	Code string
	Msg  string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Msg }

// ErrConflict: a req_id already used with a different request (HTTP 409).
var ErrConflict = errors.New("req_id already used with a different request")

// ErrNotFound: no such payment or agreement for this merchant (HTTP 404).
var ErrNotFound = errors.New("not found")

// PaymentRequest is what a merchant asks for.
type PaymentRequest struct {
	ReqID       string `json:"req_id"`
	Type        string `json:"type"`
	AgreementID string `json:"agreement_id"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Channel     string `json:"channel"`
}

// Hash identifies the request's content, so a retry can be told from a different
// request under the same req_id.
func (r PaymentRequest) Hash() string {
	h := sha256.Sum256([]byte(strings.Join([]string{r.Type, r.AgreementID, strconv.FormatInt(r.Amount, 10), r.Currency, r.Channel}, "\x00")))
	return hex.EncodeToString(h[:])
}

// Payment is a stored payment and its outcome.
type Payment struct {
	ReqID       string    `json:"req_id"`
	Type        string    `json:"type"`
	AgreementID string    `json:"agreement_id"`
	AccountID   int64     `json:"-"` // internal: not in answers, so a retry's answer is the first one's
	Channel     string    `json:"channel"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Status      string    `json:"status"`
	Code        string    `json:"code"`
	CreatedAt   time.Time `json:"created_at"`
}

// Agreement binds a customer's account to a merchant and channel.
type Agreement struct {
	ID           string     `json:"id"`
	Merchant     string     `json:"-"`
	Customer     string     `json:"customer"`
	Channel      string     `json:"channel"`
	AccountID    int64      `json:"account"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	TerminatedAt *time.Time `json:"terminated_at,omitempty"`
}

// Store is payd's ledger on one database pool. The same SQL serves openGauss,
// PostgreSQL, MySQL and MariaDB: the dialect supplies placeholders; nothing uses
// ON CONFLICT; duplicates are detected by unique violation.
type Store struct {
	db  *dbx.DB
	now func() time.Time
	q   queries
}

type queries struct {
	agreement, agreementState, debit, credit, insertPayment, payment, terminate, insertAgreement string
	insertNonce, reclaimNonce                                                                    string
}

// NewStore prepares the store's SQL for the database's dialect.
func NewStore(db *dbx.DB) *Store {
	p := db.Dialect.Placeholders
	ph := db.Dialect.Placeholder
	return &Store{db: db, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, q: queries{
		agreement:      "SELECT id, merchant, customer, channel, account_id, status, created_at, terminated_at FROM agreements WHERE id = " + ph(1),
		agreementState: "SELECT status, channel FROM agreements WHERE id = " + ph(1) + " AND merchant = " + ph(2),
		debit: fmt.Sprintf("UPDATE accounts SET balance = balance - %s, version = version + 1, updated_at = %s WHERE id = (%s) AND balance >= %s",
			ph(1), ph(2), activeAccount(ph(3), ph(4), ph(5)), ph(6)),
		credit: fmt.Sprintf("UPDATE accounts SET balance = balance + %s, version = version + 1, updated_at = %s WHERE id = (%s)",
			ph(1), ph(2), activeAccount(ph(3), ph(4), ph(5))),
		insertPayment: "INSERT INTO payments (req_id, merchant, type, agreement_id, channel, amount, currency, status, code, body_hash, created_at, account_id) SELECT " +
			p(1, 11) + ", account_id FROM agreements WHERE id = " + ph(12),
		payment: "SELECT req_id, type, agreement_id, account_id, channel, amount, currency, status, code, body_hash, created_at FROM payments WHERE req_id = " + ph(1) + " AND merchant = " + ph(2),
		terminate: fmt.Sprintf("UPDATE agreements SET status = '%s', terminated_at = %s WHERE id = %s AND merchant = %s AND status = '%s'",
			AgreementTerminated, ph(1), ph(2), ph(3), AgreementActive),
		insertAgreement: "INSERT INTO agreements (id, merchant, customer, channel, account_id, status, created_at) VALUES (" + p(1, 7) + ")",
		insertNonce:     "INSERT INTO xc_nonces (merchant, nonce, expires_at) VALUES (" + p(1, 3) + ")",
		reclaimNonce:    "UPDATE xc_nonces SET expires_at = " + ph(1) + " WHERE merchant = " + ph(2) + " AND nonce = " + ph(3) + " AND expires_at < " + ph(4),
	}}
}

// activeAccount is the subquery giving the account of an active agreement of this
// merchant on this channel.
func activeAccount(agreement, merchant, channel string) string {
	return fmt.Sprintf("SELECT account_id FROM agreements WHERE id = %s AND merchant = %s AND channel = %s AND status = '%s'",
		agreement, merchant, channel, AgreementActive)
}

// DB is the store's database.
func (s *Store) DB() *dbx.DB { return s.db }

// Pay applies one payment exactly once. It returns the stored payment and whether it
// was already there (a retry). A debit beyond the balance is stored as refused, so a
// retry gets the same answer.
//
// The happy path is four statements: BEGIN, a balance update that checks the agreement
// in a subquery (active, this merchant, this channel), the flow insert that takes the
// account from the agreement, COMMIT. Only when the update matches nothing does Pay read
// the agreement to say why.
//
// A non-empty nonce is spent inside the same transaction (it commits with the payment,
// at no extra commit); a nonce already spent within its window is ErrReplayedNonce.
func (s *Store) Pay(ctx context.Context, merchant string, r PaymentRequest, n Nonce) (Payment, bool, error) {
	p, replay, err := s.pay(ctx, merchant, r, n)
	if errors.Is(err, errNonceTaken) {
		// Spent before: allowed again only once its window has passed.
		res, rerr := s.db.ExecContext(ctx, s.q.reclaimNonce, n.Until.UTC(), n.Merchant, n.Value, s.now())
		if rerr != nil {
			return Payment{}, false, fmt.Errorf("spend nonce: %w", rerr)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			return s.pay(ctx, merchant, r, Nonce{})
		}
		// Not expired, or pruned meanwhile: one more try tells them apart.
		p, replay, err = s.pay(ctx, merchant, r, n)
		if errors.Is(err, errNonceTaken) {
			return Payment{}, false, ErrReplayedNonce
		}
	}
	return p, replay, err
}

// ErrReplayedNonce: the request's nonce was spent within its window (a replay).
var ErrReplayedNonce = errors.New("replayed nonce")

var errNonceTaken = errors.New("nonce taken")

func (s *Store) pay(ctx context.Context, merchant string, r PaymentRequest, n Nonce) (Payment, bool, error) {
	hash := r.Hash()
	now := s.now()
	p := Payment{ReqID: r.ReqID, Type: r.Type, AgreementID: r.AgreementID, Channel: r.Channel,
		Amount: r.Amount, Currency: r.Currency, Status: StatusSucceeded, Code: "ok", CreatedAt: now}

	var ref *Refusal
	var err error
	replay := false
	if s.db.Dialect.Family() == dbx.FamilyPostgres {
		replay, err = s.payPipelined(ctx, merchant, r, &p, hash, n)
	} else {
		replay, err = s.payTx(ctx, merchant, r, &p, hash, n)
	}
	switch {
	case replay:
		stored, err := s.storedPayment(ctx, merchant, r.ReqID, hash)
		return stored, true, err
	case errors.As(err, &ref):
		// The transaction is over and its connection back in the pool: a retry of a
		// payment that went through before the agreement changed still gets its
		// original answer.
		if stored, perr := s.storedPayment(ctx, merchant, r.ReqID, hash); perr == nil {
			return stored, true, nil
		} else if !errors.Is(perr, ErrNotFound) {
			return Payment{}, false, perr
		}
		return Payment{}, false, err
	case err != nil:
		return Payment{}, false, err
	}
	return p, false, nil
}

// querier is a transaction or a connection: whatever holds the payment's connection.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// payTx is Pay on one transaction (the MySQL family). Nothing inside it waits for a
// second connection of the pool: a burst of refusals cannot starve the pool. It returns
// replay when the req_id was stored by an earlier request, and a *Refusal when the
// agreement refuses the payment (nothing stored).
func (s *Store) payTx(ctx context.Context, merchant string, r PaymentRequest, p *Payment, hash string, n Nonce) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if n.Value != "" {
		if _, err := tx.ExecContext(ctx, s.q.insertNonce, n.Merchant, n.Value, n.Until.UTC()); dbx.IsUniqueViolation(err) {
			return false, errNonceTaken
		} else if err != nil {
			return false, fmt.Errorf("spend nonce: %w", err)
		}
	}
	// The conditional update takes the account's row lock: no second change to an
	// account until this one commits.
	var res sql.Result
	if r.Type == Debit {
		res, err = tx.ExecContext(ctx, s.q.debit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel, r.Amount)
	} else {
		res, err = tx.ExecContext(ctx, s.q.credit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel)
	}
	if err != nil {
		return false, fmt.Errorf("update balance: %w", err)
	}
	matched, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if matched == 0 {
		// One round trip on the same transaction says why.
		if err := s.whyNot(ctx, tx, merchant, r); err != nil {
			return false, err
		}
		p.Status, p.Code = StatusRefused, "insufficient_funds"
	}
	ins, err := tx.ExecContext(ctx, s.q.insertPayment, p.ReqID, merchant, p.Type, p.AgreementID, p.Channel,
		p.Amount, p.Currency, p.Status, p.Code, hash, p.CreatedAt, p.AgreementID)
	if dbx.IsUniqueViolation(err) {
		return true, nil // the deferred rollback undoes our balance change: the first request's stands
	}
	if err != nil {
		return false, fmt.Errorf("insert payment: %w", err)
	}
	if n, err := ins.RowsAffected(); err != nil || n != 1 {
		return false, fmt.Errorf("insert payment: %d rows (%v): the agreement vanished; nothing was applied", n, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return false, nil
}

// whyNot explains an update that matched no account, reading the agreement on the
// payment's own transaction: a refusal about the agreement, or nil when the agreement
// is fine (then a debit lacked funds).
func (s *Store) whyNot(ctx context.Context, q querier, merchant string, r PaymentRequest) error {
	var status, channel string
	err := q.QueryRowContext(ctx, s.q.agreementState, r.AgreementID, merchant).Scan(&status, &channel)
	if errors.Is(err, sql.ErrNoRows) {
		return &Refusal{Code: "unknown_agreement", Msg: "no agreement " + r.AgreementID}
	}
	if err != nil {
		return fmt.Errorf("read agreement: %w", err)
	}
	return refusal(r, status, channel)
}

// refusal is the reason an existing agreement gives for an update that matched nothing.
func refusal(r PaymentRequest, status, channel string) error {
	switch {
	case status != AgreementActive:
		return &Refusal{Code: "agreement_terminated", Msg: "agreement " + r.AgreementID + " is terminated"}
	case channel != r.Channel:
		return &Refusal{Code: "channel_mismatch", Msg: fmt.Sprintf("agreement %s is signed for channel %s, not %s", r.AgreementID, channel, r.Channel)}
	case r.Type == Credit:
		return fmt.Errorf("credit to agreement %s matched no account", r.AgreementID)
	}
	return nil
}

// storedPayment reads a payment and checks the retry carries the same request.
func (s *Store) storedPayment(ctx context.Context, merchant, reqID, hash string) (Payment, error) {
	p, storedHash, err := s.payment(ctx, merchant, reqID)
	if err != nil {
		return Payment{}, err
	}
	if storedHash != hash {
		return Payment{}, ErrConflict
	}
	return p, nil
}

// Payment returns a stored payment of this merchant.
func (s *Store) Payment(ctx context.Context, merchant, reqID string) (Payment, error) {
	p, _, err := s.payment(ctx, merchant, reqID)
	return p, err
}

func (s *Store) payment(ctx context.Context, merchant, reqID string) (Payment, string, error) {
	var p Payment
	var hash string
	err := s.db.QueryRowContext(ctx, s.q.payment, reqID, merchant).Scan(&p.ReqID, &p.Type, &p.AgreementID, &p.AccountID,
		&p.Channel, &p.Amount, &p.Currency, &p.Status, &p.Code, &hash, &p.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, "", ErrNotFound
	}
	if err != nil {
		return Payment{}, "", fmt.Errorf("read payment: %w", err)
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, hash, nil
}

// Agreement returns an agreement of this merchant.
func (s *Store) Agreement(ctx context.Context, merchant, id string) (Agreement, error) {
	var a Agreement
	var term sql.NullTime
	err := s.db.QueryRowContext(ctx, s.q.agreement, id).Scan(&a.ID, &a.Merchant, &a.Customer, &a.Channel, &a.AccountID, &a.Status, &a.CreatedAt, &term)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && a.Merchant != merchant) {
		return Agreement{}, ErrNotFound
	}
	if err != nil {
		return Agreement{}, fmt.Errorf("read agreement: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if term.Valid {
		t := term.Time.UTC()
		a.TerminatedAt = &t
	}
	return a, nil
}

// AgreementRequest signs an agreement. With a req_id the call is idempotent.
type AgreementRequest struct {
	ReqID    string `json:"req_id,omitempty"`
	Customer string `json:"customer"`
	Channel  string `json:"channel"`
	Account  int64  `json:"account"`
}

// AgreementID is the id an agreement request gets: derived from the merchant and
// req_id when there is one, random otherwise.
func AgreementID(merchant, reqID string) string {
	if reqID == "" {
		return "ag_" + randomHex(12)
	}
	h := sha256.Sum256([]byte(merchant + "\x00" + reqID))
	return "ag_" + hex.EncodeToString(h[:12])
}

// Sign creates an agreement; the same req_id returns the same agreement.
func (s *Store) Sign(ctx context.Context, merchant string, r AgreementRequest) (Agreement, bool, error) {
	a := Agreement{ID: AgreementID(merchant, r.ReqID), Merchant: merchant, Customer: r.Customer, Channel: r.Channel,
		AccountID: r.Account, Status: AgreementActive, CreatedAt: s.now()}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM accounts WHERE id = "+s.db.Dialect.Placeholder(1), r.Account).Scan(&n); err != nil {
		return Agreement{}, false, fmt.Errorf("read account: %w", err)
	}
	if n == 0 {
		return Agreement{}, false, &Refusal{Code: "unknown_account", Msg: fmt.Sprintf("no account %d", r.Account)}
	}
	_, err := s.db.ExecContext(ctx, s.q.insertAgreement, a.ID, merchant, a.Customer, a.Channel, a.AccountID, a.Status, a.CreatedAt)
	if dbx.IsUniqueViolation(err) {
		old, err := s.Agreement(ctx, merchant, a.ID)
		if err != nil {
			return Agreement{}, false, err
		}
		if old.Customer != a.Customer || old.Channel != a.Channel || old.AccountID != a.AccountID {
			return Agreement{}, false, ErrConflict
		}
		return old, true, nil
	}
	if err != nil {
		return Agreement{}, false, fmt.Errorf("insert agreement: %w", err)
	}
	return a, false, nil
}

// Terminate ends an agreement; terminating it again is not an error.
func (s *Store) Terminate(ctx context.Context, merchant, id string) (Agreement, error) {
	if _, err := s.db.ExecContext(ctx, s.q.terminate, s.now(), id, merchant); err != nil {
		return Agreement{}, fmt.Errorf("terminate agreement: %w", err)
	}
	return s.Agreement(ctx, merchant, id)
}
