package dns

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRateLimiterGCRA(t *testing.T) {
	const rate, burst = 10, 5 // one query every 100 ms, five at once
	l := newRateLimiter(rate, burst)
	a, b := netip.MustParseAddr("10.0.0.8"), netip.MustParseAddr("2001:db8::8")
	ms := int64(time.Millisecond)
	at := func(t *testing.T, addr netip.Addr, now int64, want bool) {
		t.Helper()
		if got := l.allowAt(addr, now); got != want {
			t.Errorf("%s at %d ms: allowed %v, want %v", addr, now/ms, got, want)
		}
	}
	t.Run("a burst, then the rate", func(t *testing.T) {
		for range burst {
			at(t, a, 0, true)
		}
		at(t, a, 0, false)
		at(t, a, 50*ms, false) // half an interval: not yet
		at(t, a, 100*ms, true)
		at(t, a, 100*ms, false)
	})
	t.Run("another client is not affected", func(t *testing.T) {
		for range burst {
			at(t, b, 100*ms, true)
		}
		at(t, b, 100*ms, false)
	})
	t.Run("denied queries cost nothing", func(t *testing.T) {
		// a was denied several times above; after one interval it may ask
		// once more, not later.
		at(t, a, 200*ms, true)
	})
	t.Run("an idle client gets its whole burst back", func(t *testing.T) {
		for range burst {
			at(t, a, 10_000*ms, true)
		}
		at(t, a, 10_000*ms, false)
	})
}

func TestRateLimiterIsBounded(t *testing.T) {
	l := newRateLimiter(1, 1000) // every client stays in its window for 1000 s
	for i := range 3 * maxLimitedClients {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
		if !l.allowAt(a, 0) {
			t.Fatalf("a new client %s was limited", a)
		}
	}
	if n := l.clients(); n > maxLimitedClients {
		t.Fatalf("the limiter remembers %d clients, want at most %d", n, maxLimitedClients)
	}
	// When a shard is full, the clients whose bucket is full again are
	// forgotten first: all of them, and nobody else.
	l = newRateLimiter(1000, 1)
	newcomer := netip.MustParseAddr("192.0.2.1")
	shard := &l.shards[shardOf(newcomer)]
	for i := 0; len(shard.tat) < l.perShard; i++ {
		if a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}); shardOf(a) == shardOf(newcomer) {
			l.allowAt(a, 0)
		}
	}
	active := netip.AddrFrom4([4]byte{10, 255, 255, 255})
	for shardOf(active) != shardOf(newcomer) {
		active = active.Prev()
	}
	l.allowAt(active, 0)
	l.allowAt(active, int64(time.Second)) // in its window at 1 s, the others are not
	l.allowAt(newcomer, int64(time.Second))
	if n := len(shard.tat); n != 2 {
		t.Errorf("after the other buckets refilled, the shard remembers %d clients, want 2", n)
	}
}

func TestCaptiveRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, up := newTestCaptive(t, "", reg)
	c.SetLimits(Limits{Rate: 1, Burst: 3})
	ask := func(client, name string) *mdns.Msg {
		r := new(mdns.Msg)
		r.SetQuestion(name, mdns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: client})
		if rcode, err := c.ServeDNS(context.Background(), rec, r); err != nil || rcode != mdns.RcodeSuccess {
			t.Fatalf("ServeDNS = %d, %v; want RcodeSuccess (nothing left for CoreDNS to write)", rcode, err)
		}
		return rec.Msg
	}
	for i := range 3 {
		if m := ask("10.0.0.8", fmt.Sprintf("q%d.example.org.", i)); m == nil {
			t.Fatalf("query %d within the burst not answered", i)
		}
	}
	if m := ask("10.0.0.8", "q3.example.org."); m != nil {
		t.Fatalf("query beyond the burst answered: %v", m)
	}
	// Neither another captive client nor a signed-in one is affected.
	if m := ask("10.0.0.9", "example.org."); m == nil || m.Rcode != mdns.RcodeSuccess {
		t.Fatalf("another client: %v", m)
	}
	for range 3 {
		if m := ask("10.0.0.7", "example.org."); m == nil {
			t.Fatal("signed-in client not answered")
		}
	}
	// Signed-in clients are limited too: they would flood the upstream.
	if m := ask("10.0.0.7", "example.org."); m != nil {
		t.Fatal("signed-in client beyond its burst answered")
	}
	if up.calls != 3 {
		t.Errorf("%d queries passed on, want the 3 within the burst", up.calls)
	}
	if got := counter(c.Metrics, "ratelimited", "A"); got != 2 {
		t.Errorf("ratelimited counter %v, want 2", got)
	}
}

// bigAnswer stands in for forward with an answer of n A records.
type bigAnswer struct{ n int }

func (b bigAnswer) Name() string { return "big" }
func (b bigAnswer) ServeDNS(_ context.Context, w mdns.ResponseWriter, r *mdns.Msg) (int, error) {
	m := new(mdns.Msg)
	m.SetReply(r)
	for i := range b.n {
		m.Answer = append(m.Answer, test.A(fmt.Sprintf("%s 300 IN A 192.0.2.%d", r.Question[0].Name, i+1)))
	}
	w.WriteMsg(m)
	return mdns.RcodeSuccess, nil
}

func TestCaptiveGardenAnswerSizeCap(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, _ := newTestCaptive(t, "", reg)
	c.SetLimits(Limits{GardenMaxResponse: 512})
	ask := func(client string, records int, edns bool) *mdns.Msg {
		t.Helper()
		c.Next = bigAnswer{records}
		r := new(mdns.Msg)
		r.SetQuestion("cdn.wiki.example.net.", mdns.TypeA)
		if edns {
			r.SetEdns0(1232, false)
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: client})
		if rcode, err := c.ServeDNS(context.Background(), rec, r); err != nil || rcode != mdns.RcodeSuccess {
			t.Fatalf("ServeDNS = %d, %v", rcode, err)
		}
		if rec.Msg == nil {
			t.Fatal("no answer")
		}
		return rec.Msg
	}
	// 20 A records are some 370 bytes: a CDN's answer, passed.
	if m := ask("10.0.0.8", 20, false); m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 20 {
		t.Errorf("small garden answer: %s with %d records", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	// 40 are some 690 bytes: over the cap, refused, with the reason when
	// the query had EDNS.
	m := ask("10.0.0.8", 40, true)
	if m.Rcode != mdns.RcodeRefused || len(m.Answer) != 0 {
		t.Errorf("large garden answer: %s with %d records, want REFUSED and none", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	var ede *mdns.EDNS0_EDE
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*mdns.EDNS0_EDE); ok {
				ede = e
			}
		}
	}
	if ede == nil || ede.InfoCode != mdns.ExtendedErrorCodeFiltered {
		t.Errorf("no Extended DNS Error Filtered in %v", m)
	}
	if m := ask("10.0.0.8", 40, false); m.Rcode != mdns.RcodeRefused || m.IsEdns0() != nil {
		t.Errorf("large garden answer without EDNS: %v", m)
	}
	// A signed-in client gets the whole answer.
	if m := ask("10.0.0.7", 40, true); m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 40 {
		t.Errorf("signed-in client: %s with %d records", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	if got := counter(c.Metrics, "too_large", "A"); got != 2 {
		t.Errorf("too_large counter %v, want 2", got)
	}
	if got := counter(c.Metrics, "walled_garden", "A"); got != 1 {
		t.Errorf("walled_garden counter %v, want 1", got)
	}
}
