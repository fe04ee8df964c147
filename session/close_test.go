package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// pingingStore is a store with a Ping (as a shared store has) that takes as
// long as its context lets it, and notes whether it was still pinging after
// the manager's Close returned.
type pingingStore struct {
	session.Store
	pinging   atomic.Bool
	closed    atomic.Bool // set by the test once Close has returned
	lateCalls atomic.Int32
	release   chan struct{}
}

func (p *pingingStore) Ping(ctx context.Context) error {
	p.pinging.Store(true)
	defer p.pinging.Store(false)
	select {
	case <-ctx.Done():
	case <-p.release:
	}
	if p.closed.Load() {
		p.lateCalls.Add(1)
	}
	return nil
}

// TestCloseJoinsTheHealthLoop: when Close returns, no goroutine of the
// manager uses the store any more — a caller may close the store at once.
// The health loop's Ping in flight is cut short and waited for.
func TestCloseJoinsTheHealthLoop(t *testing.T) {
	ps := &pingingStore{release: make(chan struct{})}
	site := sessiontest.New(t, sessiontest.Options{Wrap: func(s session.Store) session.Store { ps.Store = s; return ps }})
	testtool.Eventually(t, 10*time.Second, "the health loop pings the store", ps.pinging.Load)

	closed := make(chan error, 1)
	go func() { closed <- site.Manager.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for more than the Ping's own timeout")
	}
	ps.closed.Store(true)
	close(ps.release)
	testtool.Eventually(t, 5*time.Second, "the Ping returns", func() bool { return !ps.pinging.Load() })
	if n := ps.lateCalls.Load(); n != 0 {
		t.Errorf("the store was pinged after Close returned (%d Ping still running)", n)
	}
}
