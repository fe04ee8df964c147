package radius

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
)

// TestRepliesOutliveTheWorkersBuffer: a reply is built in the worker's
// buffer for its datagram, which the next batch reuses, so the duplicate
// cache must keep a copy of its own and resend that. Across the replies'
// sizes (each family's Access-Accept, with and without Idle-Timeout and
// Proxy-State; rejects; Accounting-Response) the buffer is overwritten after
// each answer and the retransmission must still get the very same,
// authentic reply. Status-Server is answered afresh every time (RFC 5997).
func TestRepliesOutliveTheWorkersBuffer(t *testing.T) {
	const mac = "02-1A-2B-3C-4D-5E" // liveMAC
	for _, vendor := range []string{"", "coova", "mikrotik", "aruba-instant", "wispr"} {
		for _, idle := range []time.Duration{0, 10 * time.Minute} {
			cfg := testConfig()
			cfg.Clients[0].Vendor = vendor
			srv, err := New(cfg, Deps{Sessions: newFakeSessions(), IdleTimeout: idle,
				Networks: map[string]Bandwidth{"wifi4eu": {UpKbps: 2000, DownKbps: 16000, Role: "guest-16m"}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, proxied := range []bool{false, true} {
				name := fmt.Sprintf("vendor %q, idle %v, proxied %v", vendor, idle, proxied)
				cases := []struct {
					what string
					l    listener
					p    *layeh.Packet
					want layeh.Code
				}{
					{"accept", authListener, newRequest(layeh.CodeAccessRequest, testSecret,
						attr{rfc2865.CallingStationID_Type, mac}, attr{rfc2865.UserName_Type, mac}), layeh.CodeAccessAccept},
					{"reject", authListener, newRequest(layeh.CodeAccessRequest, testSecret,
						attr{rfc2865.CallingStationID_Type, "02-00-00-00-00-99"}), layeh.CodeAccessReject},
					{"accounting", acctListener, newRequest(layeh.CodeAccountingRequest, testSecret,
						attr{rfc2866.AcctStatusType_Type, "\x00\x00\x00\x03"}, attr{rfc2866.AcctSessionID_Type, "4A2B"},
						attr{rfc2865.Class_Type, liveID}, attr{rfc2865.CallingStationID_Type, mac}), layeh.CodeAccountingResponse},
					{"status", authListener, newRequest(layeh.CodeStatusServer, testSecret), layeh.CodeAccessAccept},
				}
				for i, c := range cases {
					if proxied {
						c.p.Add(rfc2865.ProxyState_Type, layeh.Attribute("proxy-1"))
						c.p.Add(rfc2865.ProxyState_Type, layeh.Attribute("a longer proxy state, 2"))
					}
					c.p.Identifier = byte(i)
					b, err := sign(t, c.p).Encode()
					if err != nil {
						t.Fatal(err)
					}
					src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(2000+i))
					buf := replyBuffer()
					reply, out := srv.handle(c.l, src, b, buf)
					if out.reply != c.want {
						t.Fatalf("%s, %s: outcome %+v, want %v", name, c.what, out, c.want)
					}
					if !layeh.IsAuthenticResponse(reply, b, []byte(testSecret)) {
						t.Fatalf("%s, %s: reply is not authentic", name, c.what)
					}
					if proxied && len(reply) < 2*2+len("proxy-1")+len("a longer proxy state, 2") {
						t.Errorf("%s, %s: %d octets, too short for the Proxy-State echo", name, c.what, len(reply))
					}
					first := bytes.Clone(reply)
					for k := range buf[:cap(buf)] {
						buf[:cap(buf)][k] = 0xA5
					}
					again, out := srv.handle(c.l, src, b, buf)
					if want := c.p.Code != layeh.CodeStatusServer; out.resent != want {
						t.Fatalf("%s, %s: retransmission resent %v, want %v (outcome %+v)", name, c.what, out.resent, want, out)
					}
					if !bytes.Equal(again, first) {
						t.Errorf("%s, %s: retransmission answered with\n%x\nnot\n%x", name, c.what, again, first)
					}
				}
			}
		}
	}
}

// TestDuplicateCacheAllocatesNothing: once warm, the duplicate cache
// keeps replies without allocating — when a source reuses its identifiers
// (an entry takes over its predecessor's buffer) and when entries expire
// and new sources come (the sweep hands their buffers to the new ones).
// A reply allocated per request was the last allocation of an
// Access-Accept, and the collector's work runs on the answering core.
func TestDuplicateCacheAllocatesNothing(t *testing.T) {
	var c dupCache
	c.init()
	src := netip.MustParseAddr("127.0.0.1")
	replies := [][]byte{make([]byte, 38), make([]byte, 90), make([]byte, 20), make([]byte, 128)}
	dst := replyBuffer()
	now := time.Unix(1e9, 0)
	var auth [authLen]byte
	n := 0
	request := func(port uint16, id byte) {
		n++
		auth[0], auth[1], auth[2] = byte(n), byte(n>>8), byte(n>>16)
		k := newDupKey(netip.AddrPortFrom(src, port), authListener, layeh.CodeAccessRequest, id)
		if st, _ := c.begin(k, &auth, now, dst); st != dupNew {
			t.Fatalf("request %d: state %v, want new", n, st)
		}
		c.finish(k, &auth, replies[n%len(replies)], now)
		if st, resent := c.begin(k, &auth, now, dst); st != dupResend || len(resent) != len(replies[n%len(replies)]) {
			t.Fatalf("request %d: retransmission state %v with %d octets", n, st, len(resent))
		}
	}
	reuse := func() {
		for id := range 256 {
			request(1812, byte(id))
		}
	}
	reuse() // warm: every identifier has an entry
	if a := testing.AllocsPerRun(20, reuse); a != 0 {
		t.Errorf("identifiers reused: %.1f allocations per 256 requests, want 0", a)
	}

	port := uint16(2000)
	newSource := func() {
		// Every entry of the source before has expired: the sweep frees
		// their buffers for this one's.
		now = now.Add(DuplicateWindow + 2*time.Second)
		port++
		for id := range 256 {
			request(port, byte(id))
		}
	}
	for range 3 {
		newSource() // warm: the free lists and the maps' tables
	}
	if a := testing.AllocsPerRun(20, newSource); a != 0 {
		t.Errorf("new sources: %.1f allocations per 256 requests, want 0", a)
	}
}

// TestDupKeyTellsRequestsApart: each part of RFC 5080's key — source
// address (IPv4 or IPv6) and port, socket, code, identifier — makes a
// different key, and the same request the same one.
func TestDupKeyTellsRequestsApart(t *testing.T) {
	base := func() (netip.AddrPort, listener, layeh.Code, byte) {
		return netip.MustParseAddrPort("10.0.0.1:1812"), authListener, layeh.CodeAccessRequest, 7
	}
	src, l, code, id := base()
	k := newDupKey(src, l, code, id)
	if newDupKey(base()) != k {
		t.Fatal("the same request gives different keys")
	}
	others := map[string]dupKey{
		"address":      newDupKey(netip.MustParseAddrPort("10.0.0.2:1812"), l, code, id),
		"IPv6 address": newDupKey(netip.MustParseAddrPort("[2001:db8::1]:1812"), l, code, id),
		"port":         newDupKey(netip.MustParseAddrPort("10.0.0.1:1813"), l, code, id),
		"socket":       newDupKey(src, acctListener, code, id),
		"code":         newDupKey(src, l, layeh.CodeAccountingRequest, id),
		"identifier":   newDupKey(src, l, code, id+1),
	}
	for what, o := range others {
		if o == k {
			t.Errorf("another %s gives the same key", what)
		}
	}
}

// TestBatchRepliesAreTheirOwn: the replies to the datagrams of one read
// (recvmmsg) are built in the worker's buffers, one per datagram, and sent
// together (sendmmsg): each must be its own request's reply. The requests
// wait in the socket's buffer before the server starts serving, so that
// its first read returns them together; accepts and rejects alternate, so
// that the replies differ in length too.
func TestBatchRepliesAreTheirOwn(t *testing.T) {
	ts := listenServer(t, testConfig(), Deps{Sessions: newFakeSessions()})
	conn, err := net.DialUDP("udp", nil, ts.AuthAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = batchSize
	reqs, want := make([][]byte, n), make([]layeh.Code, n)
	for i := range n {
		mac, code := "02-1A-2B-3C-4D-5E", layeh.CodeAccessAccept // liveMAC
		if i%2 == 1 {
			mac, code = fmt.Sprintf("02-00-00-00-01-%02X", i), layeh.CodeAccessReject
		}
		p := newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, mac})
		p.Identifier = byte(i)
		b, err := sign(t, p).Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		reqs[i], want[i] = b, code
	}
	ts.serve(t)

	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := make([]bool, n)
	buf := make([]byte, layeh.MaxPacketLength)
	for left := n; left > 0; left-- {
		m, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%d of %d replies: %v", n-left, n, err)
		}
		r := buf[:m]
		id := int(r[1])
		if id >= n || got[id] {
			t.Fatalf("a second or unasked-for reply with identifier %d", id)
		}
		got[id] = true
		if !layeh.IsAuthenticResponse(r, reqs[id], []byte(testSecret)) {
			t.Errorf("the reply with identifier %d is not the reply to its request", id)
		}
		if layeh.Code(r[0]) != want[id] {
			t.Errorf("request %d answered with %v, want %v", id, layeh.Code(r[0]), want[id])
		}
	}
	if b := ts.AuthReadBatches(); b.Reads[0] == b.Total() {
		t.Fatalf("no read returned more than one datagram (%s): nothing was batched", b)
	}
}
