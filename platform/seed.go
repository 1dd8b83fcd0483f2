package platform

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/xckit/xckit/internal/dbx"
)

// SeedOptions says what `payd seed` creates: accounts 1..Accounts with Balance fen
// each, and for each account an agreement "ag-seed-<n>" of Merchant on a channel taken
// round robin from Channels.
type SeedOptions struct {
	Accounts int
	Balance  int64
	Merchant string
	Channels []string
	// Customer prefixes the seeded customers' names (default "cust-"); the kit's own
	// test preparation uses TestTag + "seed-", so a cutover can tell its rows from
	// the bank's.
	Customer string
}

// SeedAgreementID is the agreement seed gives account n.
func SeedAgreementID(n int) string { return fmt.Sprintf("ag-seed-%d", n) }

// SeedChannel is the channel of account n's seeded agreement.
func SeedChannel(channels []string, n int) string { return channels[(n-1)%len(channels)] }

// Seed bulk-loads accounts and agreements in chunks, one transaction per chunk, with
// multi-row inserts. Rows that exist are kept (found by key first; no ON CONFLICT), so
// seeding twice changes nothing.
func Seed(ctx context.Context, db *dbx.DB, o SeedOptions) (created int, err error) {
	if o.Accounts <= 0 || o.Balance < 0 || o.Merchant == "" || len(o.Channels) == 0 {
		return 0, fmt.Errorf("seed: need accounts > 0, balance >= 0, a merchant and channels")
	}
	now := time.Now().UTC()
	const chunk = 500
	for start := 1; start <= o.Accounts; start += chunk {
		end := min(start+chunk-1, o.Accounts)
		n, err := seedChunk(ctx, db, o, start, end, now)
		created += n
		if err != nil {
			return created, fmt.Errorf("seed accounts %d-%d: %w", start, end, err)
		}
	}
	return created, nil
}

func seedChunk(ctx context.Context, db *dbx.DB, o SeedOptions, start, end int, now time.Time) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	ph := db.Dialect.Placeholder
	haveAcct, err := existing(ctx, tx, fmt.Sprintf("SELECT id FROM accounts WHERE id BETWEEN %s AND %s", ph(1), ph(2)), start, end)
	if err != nil {
		return 0, err
	}
	ids := make([]any, 0, end-start+1)
	for n := start; n <= end; n++ {
		ids = append(ids, SeedAgreementID(n))
	}
	haveAg, err := existing(ctx, tx, "SELECT id FROM agreements WHERE id IN ("+db.Dialect.Placeholders(1, len(ids))+")", ids...)
	if err != nil {
		return 0, err
	}
	var acctRows, agRows [][]any
	for n := start; n <= end; n++ {
		cust := fmt.Sprintf("%s%d", o.customerPrefix(), n)
		if !haveAcct[fmt.Sprint(n)] {
			acctRows = append(acctRows, []any{int64(n), cust, "CNY", o.Balance, 0, now})
		}
		if !haveAg[SeedAgreementID(n)] {
			agRows = append(agRows, []any{SeedAgreementID(n), o.Merchant, cust, SeedChannel(o.Channels, n), int64(n), AgreementActive, now})
		}
	}
	if err := insertRows(ctx, tx, db.Dialect, "accounts (id, customer, currency, balance, version, updated_at)", acctRows); err != nil {
		return 0, err
	}
	if err := insertRows(ctx, tx, db.Dialect, "agreements (id, merchant, customer, channel, account_id, status, created_at)", agRows); err != nil {
		return 0, err
	}
	return len(acctRows), tx.Commit()
}

func existing(ctx context.Context, tx *sql.Tx, q string, args ...any) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		have[id] = true
	}
	return have, rows.Err()
}

// insertRows writes rows with one multi-row INSERT.
func insertRows(ctx context.Context, tx *sql.Tx, d dbx.Dialect, into string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + into + " VALUES ")
	args := make([]any, 0, len(rows)*len(rows[0]))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + d.Placeholders(len(args)+1, len(r)) + ")")
		args = append(args, r...)
	}
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

func (o SeedOptions) customerPrefix() string {
	if o.Customer == "" {
		return "cust-"
	}
	return o.Customer
}
