package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/xckit/xckit/internal/dbx"
	"github.com/xckit/xckit/platform"
)

// ErrNotPrepared says the target lacks the accounts and agreements a run needs.
var ErrNotPrepared = errors.New("not prepared")

// PrepareOptions say how a run makes sure its target has what it needs.
type PrepareOptions struct {
	Client   *platform.Client
	Accounts int
	Channels []string
	Balance  int64   // of each account, in fen, when they are created
	DB       *dbx.DB // the target's database; nil: only check
	Refuse   bool    // --no-prepare: check, never create
}

// Prepared reports whether the target has the seeded agreements ag-seed-1 and
// ag-seed-N for the client's merchant and each is on the channel the workload uses.
func Prepared(ctx context.Context, c *platform.Client, accounts int, channels []string) error {
	for _, n := range []int{1, accounts} {
		r, err := c.Do(ctx, http.MethodGet, "/v1/agreements/"+platform.SeedAgreementID(n), nil)
		if err != nil {
			return fmt.Errorf("ask %s for agreement %s: %w", c.BaseURL, platform.SeedAgreementID(n), err)
		}
		switch r.Status {
		case http.StatusOK:
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s has no agreement %s for merchant %s", ErrNotPrepared, c.BaseURL, platform.SeedAgreementID(n), c.Merchant)
		default:
			return fmt.Errorf("ask %s for agreement %s: HTTP %d %.200s", c.BaseURL, platform.SeedAgreementID(n), r.Status, r.Body)
		}
		var a platform.Agreement
		if err := r.Decode(&a); err != nil {
			return fmt.Errorf("agreement %s: %w", platform.SeedAgreementID(n), err)
		}
		if want := platform.SeedChannel(channels, n); a.Channel != want || a.Status != platform.AgreementActive {
			return fmt.Errorf("%w: agreement %s is %s on channel %s, the run expects an active one on %s (check --channels)",
				ErrNotPrepared, a.ID, a.Status, a.Channel, want)
		}
	}
	return nil
}

// Preparation says what EnsurePrepared did.
type Preparation struct {
	Needed  bool   // the target lacked the seeded accounts or agreements
	Created int    // accounts created
	Why     string // what was missing
}

// EnsurePrepared checks the target and, when it lacks the seeded accounts, creates
// them through o.DB (idempotent), then checks again through the API.
func EnsurePrepared(ctx context.Context, o PrepareOptions) (Preparation, error) {
	err := Prepared(ctx, o.Client, o.Accounts, o.Channels)
	if err == nil || !errors.Is(err, ErrNotPrepared) {
		return Preparation{}, err
	}
	p := Preparation{Needed: true, Why: err.Error()}
	switch {
	case o.Refuse:
		return p, fmt.Errorf("%w (--no-prepare: run xckit bench prepare first)", err)
	case o.DB == nil:
		return p, fmt.Errorf("%w: give --db with the platform's DSN (or XCKIT_DB) so the run prepares it, or run xckit bench prepare", err)
	}
	p.Created, err = platform.Seed(ctx, o.DB, platform.SeedOptions{Accounts: o.Accounts, Balance: o.Balance, Merchant: o.Client.Merchant, Channels: o.Channels, Customer: platform.TestTag + "seed-"})
	if err != nil {
		return p, fmt.Errorf("prepare: %w", err)
	}
	if err := Prepared(ctx, o.Client, o.Accounts, o.Channels); err != nil {
		return p, fmt.Errorf("prepared the database given by --db, yet %w: is --db the target's own database?", err)
	}
	return p, nil
}
