package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	err = s.db.WithPipe(ctx, func(pc *dbx.Pipe) error {
		first := []dbx.Stmt{{SQL: "BEGIN"}}
		if n.Value != "" { // the nonce rides in the first batch: no round trip of its own
			first = append(first, dbx.Stmt{SQL: s.q.insertNonce, Args: []any{n.Merchant, n.Value, n.Until.UTC()}})
		}
		if r.Type == Debit {
			first = append(first, dbx.Stmt{SQL: s.q.debit, Args: []any{r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel, r.Amount}})
		} else {
			first = append(first, dbx.Stmt{SQL: s.q.credit, Args: []any{r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel}})
		}
		rows, errs := pc.Batch(ctx, first...)
		if n.Value != "" && dbx.IsUniqueViolation(errs[1]) {
			pc.Rollback(ctx)
			return errNonceTaken
		}
		if err := firstErr(errs...); err != nil {
			pc.Rollback(ctx)
			return fmt.Errorf("update balance: %w", err)
		}
		if rows[len(rows)-1] == 0 {
			var status, channel string
			err := pc.QueryRow(ctx, s.q.agreementState, []any{r.AgreementID, merchant}, &status, &channel)
			if errors.Is(err, sql.ErrNoRows) {
				err = &Refusal{Code: "unknown_agreement", Msg: "no agreement " + r.AgreementID}
			} else if err != nil {
				err = fmt.Errorf("read agreement: %w", err)
			} else {
				err = refusal(r, status, channel)
			}
			if err != nil {
				pc.Rollback(ctx)
				return err
			}
			p.Status, p.Code = StatusRefused, "insufficient_funds"
		}
		rows, errs = pc.Batch(ctx,
			dbx.Stmt{SQL: s.q.insertPayment, Args: []any{p.ReqID, merchant, p.Type, p.AgreementID, p.Channel, p.Amount, p.Currency, p.Status, p.Code, hash, p.CreatedAt, p.AgreementID}},
			dbx.Stmt{SQL: "COMMIT"})
		switch {
		case dbx.IsUniqueViolation(errs[0]):
			pc.Rollback(ctx) // the first request's change stands, ours is undone
			replay = true
			return nil
		case firstErr(errs...) != nil:
			pc.Rollback(ctx)
			return fmt.Errorf("insert payment: %w", firstErr(errs...))
		case rows[0] != 1:
			return fmt.Errorf("insert payment: %d rows: the agreement vanished; nothing was applied", rows[0])
		}
		return nil
	})
	return replay, err
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
