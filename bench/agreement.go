package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/xckit/xckit/platform"
)

// AgreementWorkload signs agreements on seeded accounts and terminates them again
// (payment.agreement): each operation is one signed request, about half signing
// and half terminating an agreement an earlier operation signed.
type AgreementWorkload struct {
	Client   *platform.Client
	Accounts int
	Channels []string
	RunID    string
	seq      atomic.Int64
	once     sync.Once
	signed   chan string // agreements waiting to be terminated
}

// Next returns a termination when a signed agreement waits for one, else a signing.
func (a *AgreementWorkload) Next(_ context.Context, _ int) Op {
	a.once.Do(func() { a.signed = make(chan string, 4096) })
	select {
	case id := <-a.signed:
		return a.terminate(id)
	default:
		return a.sign()
	}
}

func (a *AgreementWorkload) sign() Op {
	n := a.seq.Add(1)
	acct := rand.IntN(a.Accounts) + 1
	req := platform.AgreementRequest{ReqID: fmt.Sprintf("%s-ag-%d", a.RunID, n), Customer: fmt.Sprintf("%sbench-%d", platform.TestTag, n),
		Channel: platform.SeedChannel(a.Channels, acct), Account: int64(acct)}
	return func(ctx context.Context) Result {
		r, err := a.Client.Do(ctx, http.MethodPost, "/v1/agreements", req)
		res := result(r, err)
		if res.OK() {
			var ag struct {
				ID string `json:"id"`
			}
			if r.Decode(&ag) == nil && ag.ID != "" {
				select {
				case a.signed <- ag.ID:
				default: // enough waiting to be terminated
				}
			}
		}
		return res
	}
}

func (a *AgreementWorkload) terminate(id string) Op {
	return func(ctx context.Context) Result {
		return result(a.Client.Do(ctx, http.MethodDelete, "/v1/agreements/"+id, nil))
	}
}

// result classifies one API answer.
func result(r *platform.Response, err error) Result {
	if err != nil {
		return Result{Class: classify(err)}
	}
	res := Result{Platform: r.PlatformTime, Class: "ok"}
	if r.Status < 200 || r.Status > 299 {
		var e struct {
			Error string `json:"error"`
		}
		r.Decode(&e)
		res.Class = fmt.Sprintf("http_%d:%s", r.Status, e.Error)
	}
	return res
}
