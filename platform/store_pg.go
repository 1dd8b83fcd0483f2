package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/xckit/xckit/internal/dbx"
)

// payPipelined is Pay on the PostgreSQL family (openGauss included) in two round trips
// instead of four: BEGIN and the balance update go out as one pipelined batch, then the
// flow insert and COMMIT as a second. The SQL is the same as payTx's; only the protocol
// differs. When the update matches nothing, one more round trip on the same connection
// reads why (nothing waits for a second connection of the pool while this one is held):
// a refusal about the agreement ends the transaction with a *Refusal, a debit beyond
// the balance is stored as refused.
func (s *Store) payPipelined(ctx context.Context, merchant string, r PaymentRequest, p *Payment, hash string, n Nonce) (replay bool, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		if n.Value != "" { // the nonce rides in the first batch: no round trip of its own
			b.Queue(s.q.insertNonce, n.Merchant, n.Value, n.Until.UTC())
		}
		if r.Type == Debit {
			b.Queue(s.q.debit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel, r.Amount)
		} else {
			b.Queue(s.q.credit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel)
		}
		br := pc.SendBatch(ctx, b)
		_, err1 := br.Exec()
		var errNonce error
		if n.Value != "" {
			_, errNonce = br.Exec()
		}
		tag, err2 := br.Exec()
		if cerr := br.Close(); err1 == nil && errNonce == nil && err2 == nil {
			err2 = cerr
		}
		if dbx.IsUniqueViolation(errNonce) {
			rollback(ctx, pc)
			return errNonceTaken
		}
		if err1 != nil || errNonce != nil || err2 != nil {
			rollback(ctx, pc)
			return fmt.Errorf("update balance: %w", firstErr(err1, errNonce, err2))
		}
		if tag.RowsAffected() == 0 {
			var status, channel string
			err := pc.QueryRow(ctx, s.q.agreementState, r.AgreementID, merchant).Scan(&status, &channel)
			if errors.Is(err, pgx.ErrNoRows) {
				err = &Refusal{Code: "unknown_agreement", Msg: "no agreement " + r.AgreementID}
			} else if err != nil {
				err = fmt.Errorf("read agreement: %w", err)
			} else {
				err = refusal(r, status, channel)
			}
			if err != nil {
				rollback(ctx, pc)
				return err
			}
			p.Status, p.Code = StatusRefused, "insufficient_funds"
		}
		b = &pgx.Batch{}
		b.Queue(s.q.insertPayment, p.ReqID, merchant, p.Type, p.AgreementID, p.Channel, p.Amount, p.Currency, p.Status, p.Code, hash, p.CreatedAt, p.AgreementID)
		b.Queue("COMMIT")
		br = pc.SendBatch(ctx, b)
		ins, err1 := br.Exec()
		_, err2 = br.Exec()
		if cerr := br.Close(); err1 == nil && err2 == nil {
			err2 = cerr
		}
		switch {
		case dbx.IsUniqueViolation(err1):
			rollback(ctx, pc) // the first request's change stands, ours is undone
			replay = true
			return nil
		case err1 != nil || err2 != nil:
			rollback(ctx, pc)
			return fmt.Errorf("insert payment: %w", firstErr(err1, err2))
		case ins.RowsAffected() != 1:
			return fmt.Errorf("insert payment: %d rows: the agreement vanished; nothing was applied", ins.RowsAffected())
		}
		return nil
	})
	return replay, err
}

// rollback ends whatever transaction the connection is in; a failed rollback leaves
// the connection broken, and database/sql then discards it.
func rollback(ctx context.Context, c *pgx.Conn) {
	c.Exec(ctx, "ROLLBACK")
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
