package session

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIndexGC is one garbage collection with 100 000 and 1 000 000
// sessions in the index, each seen at two access points (as after a
// morning in town: a NAS, an AP, an Acct-Session-Id and the association
// before). The runtime
// collects at least every two minutes even when nothing is allocated, and
// with one P the mark work delays RADIUS answers, so ns/op is what the
// index costs the tail every cycle.
func BenchmarkIndexGC(b *testing.B) {
	for _, sessions := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			m, _ := benchManager(b, sessions)
			nas := netip.MustParseAddr("10.0.0.1")
			at := time.Now()
			for i := range sessions {
				// The index's own copy of the ID, as RADIUS passes it; the
				// second association makes the first the previous one.
				id := m.index.byID(fmt.Sprintf("%032x", i)).s.ID
				for step := range 2 {
					a := Activity{Kind: ActivityAccess, At: at, Location: "stadtpark", AP: fmt.Sprintf("02-aa-00-00-%02x-%02x", step, i&7),
						NAS: NAS{Addr: nas, ID: fmt.Sprintf("loc%03d-ap%02d", i%50, step), AcctSessionID: fmt.Sprintf("%08x%08x", i, step)}}
					if _, _, _, ok := m.index.touch(id, a); !ok {
						b.Fatal("not found", id)
					}
				}
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			runtime.GC()
			runtime.ReadMemStats(&ms1)
			for b.Loop() {
				runtime.GC()
			}
			// After the loop: b.Loop drops metrics reported before it.
			b.ReportMetric(float64(ms1.HeapObjects-ms0.HeapObjects)/float64(sessions), "objects/session")
			b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(sessions), "B/session")
			runtime.KeepAlive(m)
		})
	}
}
