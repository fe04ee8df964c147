package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/session"
	"roamgate/session/sessiontest"
)

// crisisBenchManager is a Manager on a real SQLite store with a crisis on.
func crisisBenchManager(b *testing.B) *session.Manager {
	b.Helper()
	m := sessiontest.New(b, sessiontest.Options{Policy: session.Policy{Lifetime: 24 * time.Hour, IdleTimeout: 2 * time.Hour}, Logger: quiet}).Manager
	if _, err := m.SetCrisis(context.Background(), crisisFor(time.Hour, time.Now())); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCrisisActive is the check the DNS query path and RADIUS reject
// path make on every packet.
func BenchmarkCrisisActive(b *testing.B) {
	m := crisisBenchManager(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !m.CrisisActive() {
				b.Error("crisis not active")
				return
			}
		}
	})
}

// BenchmarkCrisisAdmit is a storm of unknown devices during a crisis:
// each admission is a durable sign-in (SQLite group commit, fsync), from
// 64 concurrent RADIUS requests.
func BenchmarkCrisisAdmit(b *testing.B) {
	m := crisisBenchManager(b)
	var n atomic.Uint64
	b.SetParallelism(32) // × GOMAXPROCS goroutines, like the RADIUS workers' queue
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			mac := session.MAC{0x02, 0xc1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			s, err := m.CrisisAdmit(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true, Location: "rathaus"})
			if err != nil || !s.Crisis {
				b.Errorf("CrisisAdmit: %+v, %v", s, err)
				return
			}
		}
	})
}
