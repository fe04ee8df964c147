package resolvertest_test

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"roamgate/internal/resolvertest"
)

func TestServe(t *testing.T) {
	addr := resolvertest.Serve(t, resolvertest.A(netip.MustParseAddr("192.0.2.10"), 60))
	for _, proto := range []string{"udp", "tcp"} {
		c := &mdns.Client{Net: proto}
		q := new(mdns.Msg).SetQuestion("example.org.", mdns.TypeA)
		r, _, err := c.Exchange(q, addr)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.10" || r.Answer[0].Header().Ttl != 60 {
			t.Errorf("%s: answer %v", proto, r.Answer)
		}
		q = new(mdns.Msg).SetQuestion("example.org.", mdns.TypeAAAA)
		if r, _, err = c.Exchange(q, addr); err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("%s AAAA: %v, %v; want an empty NOERROR", proto, r, err)
		}
	}
}
