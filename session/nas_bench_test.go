package session

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// benchNASes spreads n live sessions over nases access points (NAS
// addresses 10.x.y.z), as accounting leaves them, and returns the NAS of
// each session.
func benchNASes(b *testing.B, n, nases int) (*Manager, []NAS) {
	b.Helper()
	m, _ := benchManager(b, n)
	of := make([]NAS, n)
	for i := range n {
		k := i % nases
		of[i] = NAS{Addr: netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}), ID: fmt.Sprintf("ap-%d", k)}
		if _, err := m.Seen(fmt.Sprintf("%032x", i), Activity{NAS: of[i], Location: "bahnhof", AP: "ap"}); err != nil {
			b.Fatal(err)
		}
	}
	return m, of
}

// BenchmarkAccountingOn is one access point's Accounting-On with a million
// live sessions on a thousand access points (a thousand sessions each): the
// presence of that access point's sessions is cleared. Between iterations
// (timer stopped) the sessions are put back. "scan" is the anchor: the
// pass over the whole index that NASRestarted made before sessions were
// indexed by NAS (issue 11 item 7), kept here to measure against in the
// same run.
func BenchmarkAccountingOn(b *testing.B) {
	const sessions, nases = 1_000_000, 1_000
	m, of := benchNASes(b, sessions, nases)
	for _, way := range []string{"indexed", "scan"} {
		b.Run(way, func(b *testing.B) {
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				nas := of[k%nases]
				var got int
				if way == "scan" {
					got = scanRestarted(m, nas.Addr, nas.ID)
				} else {
					got = m.NASRestarted(nas.Addr, nas.ID)
				}
				if got != sessions/nases {
					b.Fatalf("cleared %d sessions, want %d", got, sessions/nases)
				}
				b.StopTimer()
				for i := k % nases; i < sessions; i += nases {
					m.Seen(fmt.Sprintf("%032x", i), Activity{NAS: nas, Location: "bahnhof", AP: "ap"})
				}
				b.StartTimer()
				k++
			}
		})
	}
}

// scanRestarted is NASRestarted as it was before the NAS index: every
// session is looked at.
func scanRestarted(m *Manager, addr netip.Addr, nasID string) int {
	match := func(n NAS) bool { return n != (NAS{}) && n.Addr == addr && (nasID == "" || n.ID == nasID) }
	var ids []string
	m.index.each(func(e *entry) {
		if match(e.s.NAS) {
			ids = append(ids, e.s.ID)
		}
	})
	for _, id := range ids {
		m.index.update(id, func(s *Session) {
			if match(s.NAS) {
				s.CurrentLocation, s.AP, s.NAS = "", "", NAS{}
			}
		})
		m.markDirty(id)
	}
	return len(ids)
}

// BenchmarkSignInDuringAccountingOnStorm is a sign-in (Create on a store that
// costs nothing, so the index and the token are all that is measured) while
// one authenticated access point keeps sending Accounting-On (a reboot loop,
// or a hostile AP with the secret): stormers goroutines (as the RADIUS
// server's accounting workers would run them) each handle one every 4 ms,
// with 100k live sessions on a hundred access points. The anchor is the same
// sign-in without a storm; "scan" storms with the whole-index pass
// NASRestarted made before the NAS index.
func BenchmarkSignInDuringAccountingOnStorm(b *testing.B) {
	const sessions, nases, stormers = 100_000, 100, 4
	m, of := benchNASes(b, sessions, nases)
	i := 0
	for _, storm := range []string{"none", "indexed", "scan"} {
		b.Run("storm="+storm, func(b *testing.B) {
			// The storming AP's sessions are back before each run.
			for j := 0; j < sessions; j += nases {
				m.Seen(fmt.Sprintf("%032x", j), Activity{NAS: of[0], Location: "bahnhof", AP: "ap"})
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range stormers {
				if storm == "none" {
					break
				}
				wg.Go(func() {
					tick := time.NewTicker(4 * time.Millisecond)
					defer tick.Stop()
					for {
						if storm == "scan" {
							scanRestarted(m, of[0].Addr, of[0].ID)
						} else {
							m.NASRestarted(of[0].Addr, of[0].ID)
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				})
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				mac := MAC{0x02, 0xbe, 0, byte(i >> 16), byte(i >> 8), byte(i)}
				if _, _, err := m.Create(ctx, CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			close(stop)
			wg.Wait()
		})
	}
}
