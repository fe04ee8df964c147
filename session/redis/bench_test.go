package redis_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/internal/redistest"
	"roamgate/session"
	"roamgate/session/redis"
)

// BenchmarkSignIn is what acknowledged-means-replicated costs a sign-in:
// session.Manager.Create (token, seal, store) on a primary with one replica,
// one sign-in at a time (what a citizen waits) and 16 at once (what a
// gateway sustains), without waiting for the replica (the anchor) and with
// WAIT for it (store.redis.min_replicas_acked: 1). All run against the same
// two servers in one run; ns/op is the inverse throughput, p50 and p99 the
// latency of one sign-in.
//
//	go test -run '^$' -bench SignIn -benchtime 5000x ./session/redis/
func BenchmarkSignIn(b *testing.B) {
	primary := redistest.Start(b)
	redistest.StartReplicaOf(b, primary)
	dir := b.TempDir()
	key, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		b.Fatal(err)
	}
	ring, err := session.OpenKeyRing(dir, 24*time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var prefix atomic.Int64
	for _, bc := range []struct {
		name               string
		replicas, inFlight int
	}{{"serial/no-wait", 0, 1}, {"serial/wait-1-replica", 1, 1}, {"16-at-once/no-wait", 0, 16}, {"16-at-once/wait-1-replica", 1, 16}} {
		b.Run(bc.name, func(b *testing.B) {
			st, _, err := redis.Open(context.Background(), redis.Options{Addr: primary.Addr(), MinReplicasAcked: bc.replicas,
				Prefix: fmt.Sprintf("bench%d:", prefix.Add(1))})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			m, _, err := session.NewManager(context.Background(), session.Options{
				Store: st, Tokens: session.NewTokens(ring, "bench", "http://portal", nil), SiteKey: key,
				Policy: session.Policy{Lifetime: time.Hour},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var n atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			// RunParallel starts parallelism×GOMAXPROCS goroutines.
			b.SetParallelism(max(1, bc.inFlight/runtime.GOMAXPROCS(0)))
			if bc.inFlight == 1 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					i := n.Add(1)
					mac := session.MAC{0x02, 0xbe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
					start := time.Now()
					if _, _, err := m.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true}); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
