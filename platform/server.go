package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"database/sql"
	"github.com/xckit/xckit/internal/buildinfo"
	"github.com/xckit/xckit/internal/dbx"
)

// HeaderPlatformTime carries the time spent inside payd, in microseconds: the
// reference case's "platform internal time".
const HeaderPlatformTime = "X-Platform-Time-Us"

const maxBody = 64 << 10

// Server is payd.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	common  *Store
	gates   map[string]*gate
	verify  *verifier
	metrics *metrics
	dbs     []*dbx.DB
	handler http.Handler
	stop    context.CancelFunc // ends the nonce pruner
}

// NewServer opens the common pool and one pool per channel.
func NewServer(ctx context.Context, cfg *Config, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, log: log, gates: map[string]*gate{}}
	open := func(name, dsn string, size int) (*dbx.DB, error) {
		db, err := dbx.Open(ctx, dsn, dbx.Options{MaxOpenConns: size, AppName: "payd-" + name})
		if err != nil {
			return nil, err
		}
		s.dbs = append(s.dbs, db)
		return db, nil
	}
	common, err := open("common", cfg.DSN, cfg.CommonPool)
	if err != nil {
		return nil, err
	}
	s.common = NewStore(common)
	pools := map[string]*sql.DB{"common": common.DB}
	for _, ch := range cfg.Channels {
		db, err := open(ch.Name, cfg.DSN, ch.PoolSize)
		if err != nil {
			s.Close()
			return nil, err
		}
		pools[ch.Name] = db.DB
		s.gates[ch.Name] = newGate(ch, NewStore(db))
	}
	keys := map[string]string{}
	for _, m := range cfg.Merchants {
		keys[m.ID] = m.Key
	}
	// Nonces get a pool of their own that does not wait for the WAL flush on the
	// PostgreSQL family (openGauss included): a nonce lost in a crash re-opens a replay
	// window of milliseconds, and every write is bound to an idempotent req_id anyway.
	// Measured: the flush per nonce added 0.7 ms to a debit's platform time.
	nonceDB := common
	if common.Dialect.Family() == dbx.FamilyPostgres {
		d, err := dbx.ParseDSN(cfg.DSN)
		if err != nil {
			s.Close()
			return nil, err
		}
		d.Params.Set("synchronous_commit", "off")
		if nonceDB, err = open("nonces", d.URL(), 4); err != nil {
			s.Close()
			return nil, err
		}
	}
	nonces := newDBNonces(nonceDB)
	s.verify = &verifier{keys: keys, skew: cfg.ClockSkew, now: time.Now, nonces: nonces}
	// Payments spend their nonces in their own transactions: expired ones are pruned
	// here, once a minute.
	pctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				if err := nonces.prune(pctx); err != nil && pctx.Err() == nil {
					s.log.Warn("prune expired nonces", "err", dbx.Redact(err.Error()))
				}
			}
		}
	}()
	s.metrics = newMetrics(pools)
	s.handler = s.routes()
	return s, nil
}

// Close closes every pool.
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
	}
	for _, db := range s.dbs {
		db.Close()
	}
}

// Handler is payd's HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the common store (tests and tools).
func (s *Server) Store() *Store { return s.common }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/payments", s.signed("pay", s.postPayment))
	mux.HandleFunc("GET /v1/payments/{req_id}", s.signed("get_payment", s.getPayment))
	mux.HandleFunc("POST /v1/agreements", s.signed("sign", s.postAgreement))
	mux.HandleFunc("DELETE /v1/agreements/{id}", s.signed("terminate", s.deleteAgreement))
	mux.HandleFunc("GET /v1/agreements/{id}", s.signed("get_agreement", s.getAgreement))
	return mux
}

// Serve listens until ctx ends, then stops accepting, lets in-flight requests finish
// (up to the shutdown timeout) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadTimeout: s.cfg.ReadTimeout, WriteTimeout: s.cfg.WriteTimeout,
		ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("payd: shutting down, finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// reply writes a JSON answer with the platform time measured from start.
func reply(w http.ResponseWriter, start time.Time, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderPlatformTime, strconv.FormatInt(time.Since(start).Microseconds(), 10))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

type signedHandler func(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, body []byte, n Nonce) (channel string, outcome string)

// signed reads the body, verifies the signature and records metrics.
func (s *Server) signed(op string, h signedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		channel, outcome := "-", ""
		defer func() {
			s.metrics.requests.WithLabelValues(channel, op, outcome).Inc()
			s.metrics.latency.WithLabelValues(channel, op).Observe(time.Since(start).Seconds())
		}()
		if err != nil {
			outcome = "bad_request"
			reply(w, start, http.StatusRequestEntityTooLarge, errBadRequest("body_too_large", fmt.Sprintf("request bodies are limited to %d bytes", maxBody)))
			return
		}
		if r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")) {
			outcome = "unsupported_media_type"
			reply(w, start, http.StatusUnsupportedMediaType, &apiError{Code: "unsupported_media_type", Msg: "send the body as Content-Type: application/json"})
			return
		}
		merchant, nonce, aerr := s.verify.verify(r, body)
		if aerr == nil && op != "pay" {
			// Only a request with a valid signature may spend a nonce; a payment spends
			// its own inside its transaction (no commit of its own, no extra round trip).
			aerr, nonce = s.verify.spend(r.Context(), nonce), Nonce{}
		}
		if aerr != nil {
			if aerr.cause != nil {
				s.log.Error("request refused", "op", op, "req_id", reqIDOf(body), "code", aerr.Code, "err", dbx.Redact(aerr.cause.Error()))
			}
			outcome = aerr.Code
			reply(w, start, aerr.Status, aerr)
			return
		}
		channel, outcome = h(w, r, start, merchant, body, nonce)
	}
}

// isJSON reports whether a Content-Type is application/json (parameters allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// reqIDOf is the req_id of a JSON body, for logs ("" when it has none).
func reqIDOf(body []byte) string {
	var v struct {
		ReqID string `json:"req_id"`
	}
	if json.Unmarshal(body, &v) != nil || !reqIDOK(v.ReqID) {
		return ""
	}
	return v.ReqID
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	reply(w, time.Now(), http.StatusOK, map[string]string{"status": "ok", "version": buildinfo.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	v, err := SchemaVersion(ctx, s.common.DB())
	want := LatestVersion(s.common.DB().Dialect)
	switch {
	case err != nil:
		reply(w, start, http.StatusServiceUnavailable, &apiError{Code: "not_ready", Msg: dbx.Redact(err.Error())})
	case v != want:
		reply(w, start, http.StatusServiceUnavailable, &apiError{Code: "not_ready", Msg: fmt.Sprintf("schema version %d, want %d: run payd migrate", v, want)})
	default:
		reply(w, start, http.StatusOK, map[string]any{"status": "ready", "schema_version": v, "database": s.common.DB().Dialect.Name(), "version": buildinfo.Version, "pid": os.Getpid()})
	}
}

func decode(body []byte, v any) *apiError {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("bad_json", "request body: "+err.Error())
	}
	if dec.More() {
		return errBadRequest("bad_json", "request body: one JSON object expected")
	}
	return nil
}

var reqIDOK = func(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// maxAmount bounds one payment: 10^12 fen, ten billion yuan.
const maxAmount = 1_000_000_000_000

func (s *Server) postPayment(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, body []byte, n Nonce) (string, string) {
	var req PaymentRequest
	if aerr := decode(body, &req); aerr != nil {
		reply(w, start, aerr.Status, aerr)
		return "-", aerr.Code
	}
	var bad *apiError
	switch {
	case !reqIDOK(req.ReqID):
		bad = errBadRequest("bad_req_id", "req_id: 1 to 64 characters of letters, digits, - _ . :")
	case req.Type != Debit && req.Type != Credit:
		bad = errBadRequest("bad_type", `type: "debit" or "credit"`)
	case req.Amount <= 0 || req.Amount > maxAmount:
		bad = errBadRequest("bad_amount", fmt.Sprintf("amount: a whole number of fen between 1 and %d", int64(maxAmount)))
	case req.Currency != "CNY":
		bad = errBadRequest("bad_currency", `currency: "CNY"`)
	case req.AgreementID == "":
		bad = errBadRequest("bad_agreement", "agreement_id: missing")
	}
	g, ok := s.gates[req.Channel]
	if bad == nil && !ok {
		bad = errBadRequest("unknown_channel", fmt.Sprintf("channel: one of %s", strings.Join(s.cfg.ChannelNames(), ", ")))
	}
	if bad != nil {
		reply(w, start, bad.Status, bad)
		return "-", bad.Code
	}
	leave, ok := g.enter(r.Context())
	if !ok {
		w.Header().Set("Retry-After", "1")
		reply(w, start, http.StatusServiceUnavailable, &apiError{Code: "channel_busy", Msg: "channel " + g.name + " is at its concurrency limit: retry later"})
		return g.name, "busy"
	}
	s.metrics.inFlight.WithLabelValues(g.name).Set(float64(g.inFlight()))
	p, replay, err := g.store.Pay(r.Context(), merchant, req, n)
	leave()
	// The nonce commits with the payment. A refusal that stores nothing (an unknown or
	// terminated agreement, another channel) rolls it back: spend it on its own, or the
	// captured request, sent again once the agreement exists, would go through while
	// the merchant holds a refusal. (Everything else is safe to see again: a stored
	// payment or refusal answers the same under its req_id, and a 400 or a busy
	// channel changed nothing; spending there would turn shed load into writes.)
	var ref *Refusal
	if errors.As(err, &ref) {
		if aerr := s.verify.spend(context.WithoutCancel(r.Context()), n); aerr != nil && aerr.cause != nil {
			s.log.Error("spend the nonce of a refused payment", "req_id", req.ReqID, "err", dbx.Redact(aerr.cause.Error()))
		}
	}
	return g.name, s.paymentReply(w, start, req.ReqID, p, replay, err)
}

func (s *Server) paymentReply(w http.ResponseWriter, start time.Time, reqID string, p Payment, replay bool, err error) string {
	var ref *Refusal
	switch {
	case errors.Is(err, ErrReplayedNonce):
		aerr := errReplayedNonce()
		reply(w, start, aerr.Status, aerr)
		return aerr.Code
	case errors.As(err, &ref):
		reply(w, start, http.StatusUnprocessableEntity, &apiError{Code: ref.Code, Msg: ref.Msg})
		return ref.Code
	case errors.Is(err, ErrConflict):
		reply(w, start, http.StatusConflict, &apiError{Code: "req_id_conflict", Msg: err.Error()})
		return "conflict"
	case errors.Is(err, ErrNotFound):
		reply(w, start, http.StatusNotFound, &apiError{Code: "not_found", Msg: "no such payment"})
		return "not_found"
	case err != nil && dbx.IsTransient(err):
		// The database went away under the payment (a failover, a restart): the pool
		// reconnects, to the new primary with a cluster DSN. Whether a commit in flight
		// landed is unknown here; the req_id makes the retry apply it once.
		s.log.Warn("payment: database unavailable", "req_id", reqID, "err", dbx.Redact(err.Error()))
		w.Header().Set("Retry-After", "1")
		reply(w, start, http.StatusServiceUnavailable, &apiError{Code: "database_unavailable",
			Msg: "the database connection was lost (failover or restart): retry with the same req_id, it is applied once"})
		return "unavailable"
	case err != nil:
		s.log.Error("payment failed", "req_id", reqID, "err", dbx.Redact(err.Error()))
		reply(w, start, http.StatusInternalServerError, &apiError{Code: "internal", Msg: "the payment was not applied; retry with the same req_id"})
		return "error"
	}
	status := http.StatusOK
	if p.Status == StatusRefused {
		status = http.StatusUnprocessableEntity
	}
	w.Header().Set("X-Idempotent-Replay", strconv.FormatBool(replay))
	reply(w, start, status, p)
	return p.Code
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, _ []byte, n Nonce) (string, string) {
	p, err := s.common.Payment(r.Context(), merchant, r.PathValue("req_id"))
	if err == nil {
		w.Header().Set("X-Idempotent-Replay", "true")
		reply(w, start, http.StatusOK, p)
		return p.Channel, "ok"
	}
	return "-", s.paymentReply(w, start, r.PathValue("req_id"), p, false, err)
}

func (s *Server) postAgreement(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, body []byte, n Nonce) (string, string) {
	var req AgreementRequest
	if aerr := decode(body, &req); aerr != nil {
		reply(w, start, aerr.Status, aerr)
		return "-", aerr.Code
	}
	var bad *apiError
	switch {
	case !reqIDOK(req.ReqID):
		// Required: a retry, or a replay on any side after any restart, then finds the
		// same agreement instead of signing a second one.
		bad = errBadRequest("bad_req_id", "req_id: required, 1 to 64 characters of letters, digits, - _ . :")
	case req.Customer == "" || len(req.Customer) > 64:
		bad = errBadRequest("bad_customer", "customer: 1 to 64 characters")
	case s.gates[req.Channel] == nil:
		bad = errBadRequest("unknown_channel", fmt.Sprintf("channel: one of %s", strings.Join(s.cfg.ChannelNames(), ", ")))
	case req.Account <= 0:
		bad = errBadRequest("bad_account", "account: a positive account number")
	}
	if bad != nil {
		reply(w, start, bad.Status, bad)
		return "-", bad.Code
	}
	a, replay, err := s.common.Sign(r.Context(), merchant, req)
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		reply(w, start, http.StatusUnprocessableEntity, &apiError{Code: ref.Code, Msg: ref.Msg})
		return req.Channel, ref.Code
	case errors.Is(err, ErrConflict):
		reply(w, start, http.StatusConflict, &apiError{Code: "req_id_conflict", Msg: err.Error()})
		return req.Channel, "conflict"
	case err != nil:
		s.log.Error("sign agreement failed", "req_id", req.ReqID, "err", dbx.Redact(err.Error()))
		reply(w, start, http.StatusInternalServerError, &apiError{Code: "internal", Msg: "the agreement was not signed; retry"})
		return req.Channel, "error"
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
	}
	reply(w, start, status, a)
	return req.Channel, "ok"
}

func (s *Server) deleteAgreement(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, _ []byte, n Nonce) (string, string) {
	a, err := s.common.Terminate(r.Context(), merchant, r.PathValue("id"))
	return s.agreementReply(w, start, r.PathValue("id"), a, err)
}

func (s *Server) getAgreement(w http.ResponseWriter, r *http.Request, start time.Time, merchant string, _ []byte, n Nonce) (string, string) {
	a, err := s.common.Agreement(r.Context(), merchant, r.PathValue("id"))
	return s.agreementReply(w, start, r.PathValue("id"), a, err)
}

func (s *Server) agreementReply(w http.ResponseWriter, start time.Time, id string, a Agreement, err error) (string, string) {
	switch {
	case errors.Is(err, ErrNotFound):
		reply(w, start, http.StatusNotFound, &apiError{Code: "not_found", Msg: "no such agreement"})
		return "-", "not_found"
	case err != nil:
		s.log.Error("agreement failed", "agreement_id", id, "err", dbx.Redact(err.Error()))
		reply(w, start, http.StatusInternalServerError, &apiError{Code: "internal", Msg: "retry"})
		return "-", "error"
	}
	reply(w, start, http.StatusOK, a)
	return a.Channel, "ok"
}
