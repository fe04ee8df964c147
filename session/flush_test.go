package session_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"roamgate/session"
	"roamgate/session/sessiontest"
	"roamgate/session/sqlite"
)

// chunkRecorder is the SQLite store with the sizes of its TouchMany calls
// recorded.
type chunkRecorder struct {
	session.Store
	mu    sync.Mutex
	sizes []int
}

func (c *chunkRecorder) TouchMany(ctx context.Context, touches []session.Touch, errs []error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(touches))
	c.mu.Unlock()
	c.Store.(session.BatchToucher).TouchMany(ctx, touches, errs)
}

// The background writer hands the store the sessions that moved in chunks
// of at most FlushChunk, and every move is written once.
func TestFlushWritesMovesInChunks(t *testing.T) {
	const sessions = 5*session.FlushChunk + 7
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec := &chunkRecorder{}
	site := sessiontest.New(t, sessiontest.Options{Store: store, Wrap: func(s session.Store) session.Store {
		rec.Store = s
		return rec
	}})
	ids := make([]string, sessions)
	for i := range ids {
		mac, err := session.ParseMAC(fmt.Sprintf("02-00-00-00-%02X-%02X", byte(i>>8), byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := site.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	nas := session.NAS{Addr: netip.MustParseAddr("192.0.2.1"), ID: "stadtpark-ap1"}
	for _, id := range ids {
		if _, err := site.Seen(id, session.Activity{Kind: session.ActivityAccess, Location: "stadtpark", AP: "ap1", NAS: nas}); err != nil {
			t.Fatal(err)
		}
	}
	if err := site.Close(); err != nil { // writes what is pending; the store stays open
		t.Fatal(err)
	}
	rec.mu.Lock()
	sizes := slices.Clone(rec.sizes)
	rec.mu.Unlock()
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total != sessions || slices.Max(sizes) > session.FlushChunk {
		t.Errorf("TouchMany got %v (%d sessions), want the %d moved sessions in chunks of at most %d", sizes, total, sessions, session.FlushChunk)
	}
	if c := site.Counters(); c.ActivityWritten != sessions || c.ActivityFailed != 0 {
		t.Errorf("written %d, failed %d; want %d, 0", c.ActivityWritten, c.ActivityFailed, sessions)
	}
	// What the store has is where the sessions went.
	for _, id := range []string{ids[0], ids[sessions/2], ids[sessions-1]} {
		r, err := store.Get(context.Background(), id)
		if err != nil || r.CurrentLocation != "stadtpark" {
			t.Errorf("stored %s: location %q, %v; want stadtpark", id, r.CurrentLocation, err)
		}
	}
}
