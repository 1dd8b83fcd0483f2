package platform

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/xckit/xckit/internal/dbx"
)

// payPipelined is Pay's happy path on the PostgreSQL family (openGauss included) in two
// round trips instead of four: BEGIN and the balance update go out as one pipelined
// batch, then the flow insert and COMMIT as a second. The SQL is the same as the
// portable path's; only the protocol differs. ok=false means "decide on the slow
// path": the update matched nothing (the caller rolls back and explains why).
func (s *Store) payPipelined(ctx context.Context, merchant string, r PaymentRequest, p Payment, hash string) (done bool, replay bool, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, false, fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		if r.Type == Debit {
			b.Queue(s.q.debit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel, r.Amount)
		} else {
			b.Queue(s.q.credit, r.Amount, p.CreatedAt, r.AgreementID, merchant, r.Channel)
		}
		br := pc.SendBatch(ctx, b)
		_, err1 := br.Exec()
		tag, err2 := br.Exec()
		if cerr := br.Close(); err1 == nil && err2 == nil {
			err2 = cerr
		}
		if err1 != nil || err2 != nil {
			rollback(ctx, pc)
			return fmt.Errorf("update balance: %w", firstErr(err1, err2))
		}
		if tag.RowsAffected() == 0 {
			rollback(ctx, pc)
			return nil // done stays false: the slow path decides
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
		done = true
		return nil
	})
	return done, replay, err
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
