package session

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestWarmFindsWhatLookupsFind checks loadAll against one lookup at a time
// for a batch with repeats, keys no session holds and a key another site's
// hasher made (found by neither loadAll nor its hash), that Warm reads the
// entries it finds and stops at warmMax, and that ByHashedMACShared answers
// as ByMACShared does, also for a foreign or zero HashedMAC.
func TestWarmFindsWhatLookupsFind(t *testing.T) {
	m, macs := benchManager(t, 5000)
	other, err := NewHasher([]byte("another site's key, 32 octets or more"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var hs []HashedMAC
	for len(hs) < warmMax+16 {
		switch mac := macs[r.IntN(len(macs))]; r.IntN(8) {
		case 0:
			hs = append(hs, m.HashMAC(MAC{0x02, 0xee, 0, 0, byte(r.IntN(256)), byte(len(hs))})) // no session
		case 1:
			hs = append(hs, HashedMAC{MAC: mac, sum: other.sum(mac), hasher: other})
		case 2:
			if len(hs) > 0 {
				hs = append(hs, hs[r.IntN(len(hs))]) // a repeat
			}
		default:
			hs = append(hs, m.HashMAC(mac))
		}
	}
	var es [warmMax]*entry
	batch := hs[:warmMax]
	m.index.macs.loadAll(batch, m.hasher, &es)
	found := 0
	for i, h := range batch {
		var want *entry
		if h.hasher == m.hasher {
			want = m.index.bySum(h.sum)
		}
		if es[i] != want {
			t.Errorf("%d (%v): loadAll found %p, a lookup %p", i, h.MAC, es[i], want)
		}
		if want != nil {
			found++
		}
	}
	if found < warmMax/2 {
		t.Fatalf("only %d of %d keys are of sessions: the batch does not test much", found, warmMax)
	}

	m.Warm(hs)
	for i, h := range hs {
		warmed := i < warmMax && h.hasher == m.hasher && m.index.bySum(h.sum) != nil
		if (h.warmth != 0) != warmed {
			t.Errorf("%d: warmth %d, want it read (%v)", i, h.warmth, warmed)
		}
		got, gotErr := m.ByHashedMACShared(h)
		want, wantErr := m.ByMACShared(h.MAC)
		if got.Session != want.Session || !errors.Is(gotErr, wantErr) {
			t.Errorf("%d: ByHashedMACShared %p, %v; ByMACShared %p, %v", i, got.Session, gotErr, want.Session, wantErr)
		}
	}
	if _, err := m.ByHashedMACShared(HashedMAC{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("zero HashedMAC: %v, want ErrNotFound", err)
	}
}

// TestWarmBesideWriters runs Warm from several goroutines while others
// move sessions to new MACs (a store and a delete in two shards each): it
// must neither race (go test -race) nor deadlock — loadAll holds many
// shards' read locks at once, which only their order keeps from waiting
// in a circle with the writers' pending locks.
func TestWarmBesideWriters(t *testing.T) {
	const sessions = 4000
	m, macs := benchManager(t, sessions)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			hs := make([]HashedMAC, warmMax)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range hs {
					hs[i] = m.HashMAC(macs[r.IntN(sessions)])
				}
				m.Warm(hs)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(3, 4))
		now := time.Now()
		for n := range 20000 {
			i := r.IntN(sessions)
			mac := MAC{0xda, 0xa2, byte(n >> 16), byte(n >> 8), byte(n), byte(i)}
			s := Session{ID: fmt.Sprintf("%032x", i), MACKey: m.hasher.Key(mac), Network: "wifi4eu",
				Location: "bahnhof", CurrentLocation: "bahnhof", Created: now, Expires: now.Add(time.Hour), LastSeen: now}
			m.index.put(&entry{s: s, exp: s.Expires})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("writers did not finish within a minute beside Warm: a deadlock")
	}
	close(stop)
	wg.Wait()
}

// BenchmarkLookupBatch looks sessions up by hashed MAC in batches of 13
// (the mean datagrams per read under make bench-radius at 100 000
// sessions), one after another as answers did before Warm, and after a
// Warm of the batch as a RADIUS worker does now. The keys are hashed
// beforehand; ns/lookup is the index's part of an answer.
func BenchmarkLookupBatch(b *testing.B) {
	const batch = 13
	for _, sessions := range []int{100_000, 1_000_000} {
		m, macs := benchManager(b, sessions)
		r := rand.New(rand.NewPCG(5, 6))
		hs := make([]HashedMAC, 1<<16)
		for i := range hs {
			hs[i] = m.HashMAC(macs[r.IntN(sessions)])
		}
		for _, warm := range []bool{false, true} {
			name := fmt.Sprintf("sessions=%d/one-by-one", sessions)
			if warm {
				name = fmt.Sprintf("sessions=%d/warmed", sessions)
			}
			b.Run(name, func(b *testing.B) {
				n, i := 0, 0
				for b.Loop() {
					if i+batch > len(hs) {
						i = 0
					}
					part := hs[i : i+batch]
					if warm {
						m.Warm(part)
					}
					for _, h := range part {
						if _, err := m.ByHashedMACShared(h); err != nil {
							b.Fatal(err)
						}
					}
					i += batch
					n += batch
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/lookup")
			})
		}
	}
}
