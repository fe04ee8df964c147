package session

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// nopStore is enough of a Store to start a Manager whose index the benchmark
// fills directly: the hot path never touches the store.
type nopStore struct{}

func (nopStore) Create(context.Context, Record) error                       { return nil }
func (nopStore) Get(context.Context, string) (Record, error)                { return Record{}, ErrNotFound }
func (nopStore) Rebind(context.Context, string, MACKey, bool, []byte) error { return nil }
func (nopStore) Touch(context.Context, string, Activity, int, []byte) error { return nil }
func (nopStore) Revoke(context.Context, string) error                       { return nil }
func (nopStore) DeleteEnded(context.Context, time.Time) (int, error)        { return 0, nil }
func (nopStore) Live(context.Context, time.Time, func(Record) error) error  { return nil }
func (nopStore) Close() error                                               { return nil }

// benchManager returns a Manager with n live sessions in its index and their
// MACs.
func benchManager(b testing.TB, n int) (*Manager, []MAC) {
	b.Helper()
	now := time.Now()
	ring, err := OpenKeyRing(b.TempDir(), 24*time.Hour, now)
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	m, _, err := NewManager(context.Background(), Options{
		Store: nopStore{}, Tokens: NewTokens(ring, "iss", "aud", nil), SiteKey: key,
		Policy: Policy{Lifetime: 4 * time.Hour, IdleTimeout: time.Hour},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	macs := make([]MAC, n)
	for i := range macs {
		macs[i] = MAC{0xda, 0xa1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		id := fmt.Sprintf("%032x", i)
		s := Session{ID: id, MACKey: m.hasher.Key(macs[i]), RandomMAC: true, Network: "wifi4eu",
			Location: "bahnhof", CurrentLocation: "bahnhof", Created: now, Expires: now.Add(4 * time.Hour), LastSeen: now}
		m.index.put(&entry{s: s, exp: s.Expires})
	}
	if got := m.index.count.Load(); got != int64(n) {
		b.Fatalf("index holds %d sessions, want %d", got, n)
	}
	return m, macs
}

// BenchmarkByMAC is the RADIUS MAC-auth hot path with 100k sessions in the
// index: hash the MAC, look it up, check the session is live.
func BenchmarkByMAC(b *testing.B) {
	const sessions = 100_000
	m, macs := benchManager(b, sessions)
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.ByMAC(macs[i%sessions]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		unknown := MAC{0x02, 0xff, 0xff, 0xff, 0xff, 0xff}
		for b.Loop() {
			if _, err := m.ByMAC(unknown); err != ErrNotFound {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := m.ByMAC(macs[i%sessions]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

// BenchmarkIndexByMAC is the index lookup alone, keys already hashed: the
// HMAC of ByMAC costs more than the lookup and would hide it. At a million
// sessions the index no longer fits in the CPU's caches.
func BenchmarkIndexByMAC(b *testing.B) {
	for _, sessions := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			var x index
			h, err := NewHasher(make([]byte, 32))
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]macSum, sessions)
			now := time.Now()
			for i := range keys {
				k := h.Key(MAC{0xda, 0xa1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
				keys[i] = k.sum()
				s := Session{ID: fmt.Sprintf("%032x", i), MACKey: k, Created: now, Expires: now.Add(4 * time.Hour), LastSeen: now}
				x.put(&entry{s: s, exp: s.Expires})
			}
			b.Run("hit", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if x.bySum(keys[i%sessions]) == nil {
						b.Fatal("miss")
					}
					i += 7919 // a prime stride: no help from the caches' neighbours
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if x.bySum(keys[i%sessions]) == nil {
							b.Error("miss")
							return
						}
						i += 7919
					}
				})
			})
		})
	}
}

// BenchmarkStats walks the whole index, as Stats, Live and the metrics do:
// the cost of Range over 100k sessions.
func BenchmarkStats(b *testing.B) {
	const sessions = 100_000
	m, _ := benchManager(b, sessions)
	b.ReportAllocs()
	for b.Loop() {
		if st := m.Stats(); st.Active != sessions {
			b.Fatalf("Active = %d, want %d", st.Active, sessions)
		}
	}
}

// BenchmarkAcceptReads is what RADIUS reads of a session to accept a
// device that is where it was (radius/access.go accept): the lookup by MAC,
// the place compared, the time left, the ID copied into the reply's Class.
// At a million sessions each cache line of the session it touches is a
// miss; ns/op counts them.
func BenchmarkAcceptReads(b *testing.B) {
	for _, sessions := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			m, macs := benchManager(b, sessions)
			runtime.GC() // the set-up's garbage is not the loop's
			var reply [64]byte
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s, err := m.ByMACShared(macs[i%sessions])
				if err != nil {
					b.Fatal(err)
				}
				if s.CurrentLocation != "bahnhof" || s.AP != "" || s.NAS.Addr.IsValid() || s.NAS.ID != "" ||
					s.CheckedAt().Sub(s.LastSeen) > time.Hour || s.Network != "wifi4eu" || s.TimeLeft() <= 0 {
					b.Fatal("the session is not where it was")
				}
				if n := len(s.AppendID(reply[:0])); n != 32 {
					b.Fatal("ID", n)
				}
				i += 7919 // a prime stride: no help from the caches' neighbours
			}
		})
	}
}
