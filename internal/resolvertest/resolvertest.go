// Package resolvertest is the upstream resolver of tests that run roamgate's
// DNS: a miekg/dns server on one loopback port, UDP and TCP, with the
// test's handler or one that answers every A query with a fixed address.
// It stands in for the town's resolver, whose answers only have to be
// recognisable as forwarded.
package resolvertest

import (
	"net"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// Serve runs handler on 127.0.0.1, UDP and TCP on the same port, until the
// test ends, and returns host:port.
func Serve(t testing.TB, handler mdns.Handler) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue // the TCP port was taken; try another
		}
		udp := &mdns.Server{PacketConn: pc, Handler: handler}
		tcp := &mdns.Server{Listener: l, Handler: handler}
		go udp.ActivateAndServe()
		go tcp.ActivateAndServe()
		t.Cleanup(func() {
			udp.Shutdown()
			tcp.Shutdown()
		})
		return pc.LocalAddr().String()
	}
	t.Fatal("resolvertest: no port free for UDP and TCP")
	return ""
}

// A answers every A query with addr and time to live ttl (seconds), and
// anything else with an empty NOERROR.
func A(addr netip.Addr, ttl uint32) mdns.Handler {
	ip := net.IP(addr.AsSlice())
	return mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 && r.Question[0].Qtype == mdns.TypeA {
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: ip}}
		}
		w.WriteMsg(m)
	})
}
