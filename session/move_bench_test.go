package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"roamgate/session"
	"roamgate/session/sessiontest"
)

// oneByOne hides a store's TouchMany: the Manager writes each session's
// activity with its own Touch (its own commit and fsync on SQLite).
type oneByOne struct{ session.Store }

// BenchmarkMoveWrites is what moves cost the Manager's background writer on
// SQLite (synchronous=FULL): 20 000 sessions move through Manager.Seen, as a
// RADIUS Access-Request from another location does, faster than the store
// writes them, and each op's share of the time until every move is stored
// (Close writes what is pending, and checkpoints the journal). "journal"
// is the store as gateway.New wires it (the move journal, checkpointed
// into the store with TouchMany), "batched" without the journal
// (TouchMany: the pending sessions share group commits), "one-by-one" a
// Touch per session.
func BenchmarkMoveWrites(b *testing.B) {
	const sessions = 20_000
	for _, bc := range []struct {
		name      string
		wrap      func(session.Store) session.Store
		noJournal bool
	}{
		{"one-by-one", func(s session.Store) session.Store { return oneByOne{s} }, true},
		{"batched", nil, true},
		{"journal", nil, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			site := sessiontest.New(b, sessiontest.Options{Wrap: bc.wrap, NoJournal: bc.noJournal})
			ids := make([]string, sessions)
			errs := make([]error, sessions)
			var wg sync.WaitGroup
			for w := range 64 { // concurrent sign-ins share commits
				wg.Go(func() {
					for i := w; i < sessions; i += 64 {
						mac, err := session.ParseMAC(fmt.Sprintf("02-00-00-%02X-%02X-%02X", byte(i>>16), byte(i>>8), byte(i)))
						if err == nil {
							var s session.Session
							s, _, err = site.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true,
								Network: "wifi4eu", Location: "loc0"})
							ids[i] = s.ID
						}
						errs[i] = err
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
			nas := session.NAS{Addr: netip.MustParseAddr("192.0.2.1"), ID: "ap"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i / sessions
				if _, err := site.Seen(ids[i%sessions], session.Activity{Kind: session.ActivityAccess,
					Location: fmt.Sprintf("loc%d", 1+k%2), AP: "ap", NAS: nas}); err != nil {
					b.Fatal(err)
				}
			}
			if err := site.Close(); err != nil { // writes what is pending
				b.Fatal(err)
			}
			b.StopTimer()
			if c := site.Counters(); c.ActivityFailed != 0 {
				b.Fatalf("counters %+v", c)
			}
		})
	}
}
