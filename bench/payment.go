package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/xckit/xckit/platform"
)

// PaymentWorkload sends signed payments to payd over seeded accounts 1..Accounts
// (agreements ag-seed-N, as `payd seed` makes them). DebitPct is the share of debits.
type PaymentWorkload struct {
	Client   *platform.Client
	Accounts int
	Channels []string
	DebitPct int
	RunID    string
	seq      atomic.Int64
}

// Next returns one payment operation.
func (p *PaymentWorkload) Next(_ context.Context, worker int) Op {
	return p.Op(p.Request())
}

// Request makes the next payment request.
func (p *PaymentWorkload) Request() platform.PaymentRequest {
	n := p.seq.Add(1)
	acct := rand.IntN(p.Accounts) + 1
	typ := platform.Credit
	if rand.IntN(100) < p.DebitPct {
		typ = platform.Debit
	}
	return platform.PaymentRequest{ReqID: fmt.Sprintf("%s-%d", p.RunID, n), Type: typ, AgreementID: platform.SeedAgreementID(acct),
		Amount: int64(rand.IntN(1000) + 1), Currency: "CNY", Channel: platform.SeedChannel(p.Channels, acct)}
}

// Op sends one payment request.
func (p *PaymentWorkload) Op(req platform.PaymentRequest) Op {
	return func(ctx context.Context) Result {
		return result(p.Client.Pay(ctx, req))
	}
}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "conn"
	}
}

// RunID makes a req_id prefix unique to this run. It starts with platform.TestTag:
// the kit's load is test traffic, which a cutover may remove from the new side.
func RunID(prefix string) string {
	return fmt.Sprintf("%s%s-%d", platform.TestTag, prefix, time.Now().UnixNano())
}
