package dns

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"roamgate/internal/testtool"
)

// inCrisis is a Sessions that also knows crisis mode; no client has a session.
type inCrisis struct {
	signedIn
	active bool
}

func (c *inCrisis) CrisisActive() bool { return c.active }

func TestCaptiveForwardsEveryoneInACrisis(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	sessions := &inCrisis{signedIn: signedIn{}}
	c := NewCaptive(sessions, netip.MustParseAddr("10.0.0.1"), netip.Addr{}, 0, nil, m)
	up := &upstreamAnswer{}
	c.Next = up
	tests := []struct {
		name     string
		active   bool
		qtype    uint16
		wantNext bool
		wantAns  string
	}{
		{"no crisis: captive", false, mdns.TypeA, false, "10.0.0.1"},
		{"no crisis: TXT refused", false, mdns.TypeTXT, false, ""},
		{"crisis: forwarded", true, mdns.TypeA, true, "192.0.2.99"},
		{"crisis: any type forwarded", true, mdns.TypeTXT, true, "192.0.2.99"},
		{"crisis over: captive again", false, mdns.TypeA, false, "10.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sessions.active = tc.active
			before := up.calls
			r := new(mdns.Msg)
			r.SetQuestion("shelters.example.org.", tc.qtype)
			rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.8"})
			if _, err := c.ServeDNS(context.Background(), rec, r); err != nil {
				t.Fatal(err)
			}
			if got := up.calls > before; got != tc.wantNext {
				t.Fatalf("passed on = %v, want %v", got, tc.wantNext)
			}
			var ans string
			if rec.Msg != nil && len(rec.Msg.Answer) > 0 {
				if a, ok := rec.Msg.Answer[0].(*mdns.A); ok {
					ans = a.A.String()
				}
			}
			if ans != tc.wantAns {
				t.Fatalf("answer %q, want %q", ans, tc.wantAns)
			}
		})
	}
	if got := testtool.Counter(t, reg, "roamgate_dns_queries_total", "result", "crisis"); got != 2 {
		t.Errorf("crisis counter = %v, want 2", got)
	}
}
