package dns

import (
	"context"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	mdns "github.com/miekg/dns"
)

// FuzzCaptive feeds the handler every message miekg/dns can unpack, from a
// captive and from a signed-in client: it must never panic, and it must
// answer every query it does not pass on.
func FuzzCaptive(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"example.org.", mdns.TypeA}, {"captive.apple.com.", mdns.TypeAAAA}, {"t.example.org.", mdns.TypeTXT},
		{"use-application-dns.net.", mdns.TypeA}, {"wiki.example.net.", mdns.TypeHTTPS}, {".", mdns.TypeNS}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, true)
		b, _ := m.Pack()
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{0, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0}, false)
	c, up := newTestCaptiveF(f)
	f.Fuzz(func(t *testing.T, data []byte, signedIn bool) {
		r := new(mdns.Msg)
		if err := r.Unpack(data); err != nil {
			return // the server drops what it cannot unpack
		}
		client := "10.0.0.8"
		if signedIn {
			client = "10.0.0.7"
		}
		before := up.calls
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: client})
		if _, err := c.ServeDNS(context.Background(), rec, r); err != nil {
			t.Fatalf("ServeDNS: %v", err)
		}
		if up.calls == before && rec.Msg == nil && !r.Response {
			t.Fatal("query neither answered nor passed on")
		}
		if rec.Msg != nil && up.calls == before {
			if _, err := rec.Msg.Pack(); err != nil {
				t.Fatalf("answer does not pack: %v", err)
			}
		}
	})
}

func newTestCaptiveF(f *testing.F) (*Captive, *upstreamAnswer) {
	m, err := NewMetrics(nil)
	if err != nil {
		f.Fatal(err)
	}
	c := NewCaptive(signedIn{netip.MustParseAddr("10.0.0.7"): true}, netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("fd00::1"), 0, []string{"wiki.example.net"}, m)
	up := &upstreamAnswer{}
	c.Next = up
	return c, up
}
