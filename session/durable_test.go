package session_test

import (
	"context"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
)

// TestSeenDurableBuffersWhileTheStoreIsAway: accounting is answered only
// after the store has it — or, while the store is away, once it is in the
// bounded buffer, from which it reaches the store when the store returns.
func TestSeenDurableBuffersWhileTheStoreIsAway(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	fs := &touchFailing{}
	h.wrap = func(s session.Store) session.Store { fs.Store = s; return fs }
	h.noJournal = true // TestSeenDurableIsInTheJournal has the journal
	h.restart(t)
	s, _ := h.create(t, "da:a1:19:00:0c:01", "wifi4eu", "bahnhof")
	ctx := context.Background()

	if _, err := h.m.SeenDurable(ctx, s.ID, session.Activity{Location: "stadtpark", InputOctets: 10}); err != nil {
		t.Fatalf("SeenDurable with the store up: %v", err)
	}
	if r, err := h.store.Get(ctx, s.ID); err != nil || r.CurrentLocation != "stadtpark" || r.InputOctets != 10 {
		t.Fatalf("not in the store when SeenDurable returned: %+v %v", r.Session, err)
	}

	fs.down.Store(true)
	if _, err := h.m.SeenDurable(ctx, s.ID, session.Activity{Location: "rathaus", InputOctets: 20}); err != nil {
		t.Fatalf("SeenDurable while the store is away: %v, want the record buffered", err)
	}
	if c := h.m.Counters(); c.ActivityBuffered != 1 || c.ActivityPending != 1 || c.StoreUp {
		t.Fatalf("counters = %+v", c)
	}
	fs.down.Store(false)
	var (
		r   session.Record
		err error
	)
	stored := testtool.Poll(5*time.Second, func() bool {
		r, err = h.store.Get(ctx, s.ID)
		return err == nil && r.CurrentLocation == "rathaus" && r.InputOctets == 20
	})
	if !stored {
		t.Fatalf("the buffered record did not reach the store: %+v %v", r.Session, err)
	}
}
