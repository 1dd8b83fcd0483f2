package cdc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The pipeline's promise (nothing lost, nothing applied twice) at every point a process
// can die or a connection can drop, without a database: an in-memory source that
// re-delivers everything after its confirmed position (as a slot does) and an
// in-memory applier that commits rows and checkpoint together.

type memSource struct {
	mu        sync.Mutex
	txns      []Txn // committed on the source, in commit order
	confirmed LSN
	batch     int              // transactions per read (a restart may read more than the run before)
	failNext  map[string]error // one failure per call name, then normal
}

func (s *memSource) fail(call string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failNext[call]; err != nil {
		delete(s.failNext, call)
		return err
	}
	return nil
}

func (s *memSource) Next(ctx context.Context) ([]Txn, error) {
	if err := s.fail("next"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Txn
	for _, t := range s.txns {
		if t.CommitLSN > s.confirmed && len(out) < s.batch {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *memSource) CurrentLSN(ctx context.Context) (LSN, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txns[len(s.txns)-1].CommitLSN + 1, nil
}

func (s *memSource) Confirm(ctx context.Context, upTo LSN) error {
	if err := s.fail("confirm"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed = max(s.confirmed, upTo)
	return nil
}

type memApplier struct {
	mu       sync.Mutex
	applied  map[string]int // source xid -> times applied
	cp       Checkpoint
	failNext map[string]error
	// commitThenFail: the commit happens, then the call fails (a connection lost
	// after COMMIT reached the server, or a process killed right after it).
	commitThenFail map[string]error
}

func (a *memApplier) Slot() string { return "mem" }

func (a *memApplier) Checkpoint(ctx context.Context) (Checkpoint, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cp, true, nil
}

func (a *memApplier) Apply(ctx context.Context, txns []Txn, upTo LSN) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.failNext["apply"]; err != nil {
		delete(a.failNext, "apply")
		return 0, err // nothing committed
	}
	for _, t := range txns {
		a.applied[t.XID]++
	}
	a.cp.LSN = upTo
	if err := a.commitThenFail["apply"]; err != nil {
		delete(a.commitThenFail, "apply")
		return 0, err
	}
	return len(txns), nil
}

func (a *memApplier) MarkSeen(ctx context.Context, lsn LSN) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cp.SeenLSN = lsn
	return nil
}

// errCrash stands for the process dying: the run stops and a new one starts.
var errCrash = permanent(errors.New("process killed"))

func TestPipelineCrashPoints(t *testing.T) {
	t.Parallel()
	lost := fmt.Errorf("write: %w", syscall.ECONNRESET) // a transient failure
	cases := []struct {
		name           string
		sourceFail     map[string]error
		applyFail      map[string]error
		commitThenFail map[string]error
		runs           int // how many runs it takes (a crash stops one)
	}{
		{name: "no failure", runs: 1},
		{name: "crash before apply", applyFail: map[string]error{"apply": errCrash}, runs: 2},
		{name: "connection lost before apply", applyFail: map[string]error{"apply": lost}, runs: 1},
		{name: "crash after the commit, before its ack", commitThenFail: map[string]error{"apply": errCrash}, runs: 2},
		{name: "connection lost after the commit", commitThenFail: map[string]error{"apply": lost}, runs: 1},
		{name: "crash after apply, before confirm", sourceFail: map[string]error{"confirm": errCrash}, runs: 2},
		{name: "source lost before the read", sourceFail: map[string]error{"next": lost}, runs: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &memSource{failNext: c.sourceFail}
			for i := 1; i <= 10; i++ {
				src.txns = append(src.txns, Txn{XID: fmt.Sprint(i), CommitLSN: LSN(100 * i), Changes: []Change{{Kind: Insert, Table: "t"}}})
			}
			app := &memApplier{applied: map[string]int{}, failNext: c.applyFail, commitThenFail: c.commitThenFail}
			runs := 0
			for app.cp.LSN < src.txns[len(src.txns)-1].CommitLSN && runs < 5 {
				runs++
				src.mu.Lock()
				src.batch = 1 + 2*runs // after a restart the batch reaches past the checkpoint
				src.mu.Unlock()
				ctx, cancel := context.WithCancel(context.Background())
				p := &Pipeline{Reader: src, Sink: app, Idle: time.Millisecond, MaxWait: 5 * time.Millisecond}
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				deadline := time.After(5 * time.Second)
			wait:
				for {
					select {
					case err := <-done:
						if err != nil && !errors.Is(err, errCrash) {
							t.Fatalf("run %d: %v", runs, err)
						}
						break wait
					case <-deadline:
						t.Fatal("the pipeline did not catch up")
					case <-time.After(2 * time.Millisecond):
						app.mu.Lock()
						caught := app.cp.LSN == src.txns[len(src.txns)-1].CommitLSN
						app.mu.Unlock()
						if caught {
							cancel()
						}
					}
				}
				cancel()
			}
			if runs != c.runs {
				t.Errorf("%d runs, want %d", runs, c.runs)
			}
			for _, tx := range src.txns {
				if n := app.applied[tx.XID]; n != 1 {
					t.Errorf("transaction %s applied %d times, want exactly once", tx.XID, n)
				}
			}
			if src.confirmed > app.cp.LSN {
				t.Errorf("the slot was confirmed to %s past the checkpoint %s: a crash there would lose data", src.confirmed, app.cp.LSN)
			}
		})
	}
}
