package radius

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"testing"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc3162"
)

// FuzzHandlePacket feeds raw datagrams to the per-packet function. The
// client does not require a Message-Authenticator, so the fuzzer reaches the
// handlers; whenever one is present it is still verified. Besides not
// crashing, every reply must be a well-formed, authentic answer to the
// request, signed with the Message-Authenticator first for Access-*.
func FuzzHandlePacket(f *testing.F) {
	cfg := testConfig()
	cfg.Clients[0].RequireMessageAuthenticator = new(false)
	sessions := newFakeSessions()
	srv, err := New(cfg, Deps{Sessions: sessions, Locator: &fakeLocator{byNAS: map[string]string{"ap": "bahnhof"}}})
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")

	encode := func(p *layeh.Packet) []byte {
		b, err := p.Encode()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	mac := attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}
	f.Add(false, encode(sign(f, newRequest(layeh.CodeAccessRequest, testSecret, mac, attr{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"}, attr{rfc2865.ProxyState_Type, "x"}))))
	f.Add(false, encode(newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.UserName_Type, "021a2b3c4d5e"}, attr{rfc2865.NASIdentifier_Type, "ap"})))
	f.Add(false, encode(newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.UserName_Type, "aa:bb:cc:dd:ee:ff"})))
	f.Add(true, encode(newRequest(layeh.CodeAccountingRequest, testSecret,
		attr{rfc2866.AcctStatusType_Type, string(layeh.NewInteger(3))}, attr{rfc2865.Class_Type, liveID}, attr{rfc2866.AcctInputOctets_Type, "\x00\x00\x01\x00"})))
	f.Add(true, encode(sign(f, newRequest(layeh.CodeAccountingRequest, testSecret, attr{rfc2865.Class_Type, otherID}))))
	f.Add(false, []byte{})
	f.Add(false, make([]byte, 20))
	f.Add(true, []byte("\x04\x00\x00\x14garbagegarbageXX"))

	f.Fuzz(func(t *testing.T, acct bool, b []byte) {
		l := authListener
		if acct {
			l = acctListener
		}
		in := bytes.Clone(b)
		checkParseRequest(t, b)
		before := srv.Stats()
		reply, out := srv.handle(l, src, b, replyBuffer())
		sessions.takeSeen()

		if !bytes.Equal(in, b) {
			t.Fatal("handle modified its input")
		}
		after := srv.Stats()
		if after.Received != before.Received+1 {
			t.Fatalf("Received %d → %d", before.Received, after.Received)
		}
		answers := func(s Stats) uint64 { return s.Accepted + s.Rejected + s.AccountingResponses + s.StatusServer }
		if reply == nil {
			if out.drop == dropNone || after.Dropped.Total() != before.Dropped.Total()+1 || answers(after) != answers(before) {
				t.Fatalf("no reply, but outcome %+v and stats %+v → %+v", out, before, after)
			}
			return
		}
		if out.resent {
			// A retransmission of an earlier input: the cached reply, and
			// the handler did not run again.
			if answers(after) != answers(before) || after.Resent != before.Resent+1 {
				t.Fatalf("resent, but stats %+v → %+v", before, after)
			}
		} else if out.drop != dropNone || answers(after) != answers(before)+1 || after.Dropped != before.Dropped {
			t.Fatalf("reply, but outcome %+v and stats %+v → %+v", out, before, after)
		}

		req, err := frame(b)
		if err != nil {
			t.Fatalf("answered a packet that does not frame: %v", err)
		}
		if !layeh.IsAuthenticResponse(reply, req, []byte(testSecret)) {
			t.Fatal("reply is not authentic")
		}
		resp, err := layeh.Parse(reply, []byte(testSecret))
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if int(reply[2])<<8|int(reply[3]) != len(reply) || resp.Identifier != req[1] {
			t.Fatal("reply length or identifier wrong")
		}
		switch {
		case !acct && req[0] == byte(layeh.CodeAccessRequest) && (resp.Code == layeh.CodeAccessAccept || resp.Code == layeh.CodeAccessReject):
			if len(resp.Attributes) == 0 || resp.Attributes[0].Type != 80 || len(resp.Attributes[0].Attribute) != 16 {
				t.Fatal("Access-* reply without Message-Authenticator first")
			}
			signed := bytes.Clone(reply)
			copy(signed[4:20], req[4:20])
			clear(signed[22:38])
			h := hmac.New(md5.New, []byte(testSecret))
			h.Write(signed)
			if !hmac.Equal(h.Sum(nil), reply[22:38]) {
				t.Fatal("reply Message-Authenticator is wrong")
			}
		case acct && req[0] == byte(layeh.CodeAccountingRequest) && resp.Code == layeh.CodeAccountingResponse:
			if !layeh.IsAuthenticRequest(req, []byte(testSecret)) {
				t.Fatal("answered an Accounting-Request whose authenticator is wrong")
			}
		default:
			t.Fatalf("answered %v on the %v port with %v", layeh.Code(req[0]), l, resp.Code)
		}
	})
}

// checkParseRequest: for every packet that passes framing and scanning, our
// in-place reader agrees with layeh.Parse on every attribute it reads, and
// the PAP decryption with layeh's.
func checkParseRequest(t *testing.T, b []byte) {
	framed, err := frame(b)
	if err != nil {
		return
	}
	if _, _, err := scanAttributes(framed); err != nil {
		return
	}
	want, err := layeh.Parse(framed, []byte(testSecret))
	if err != nil {
		t.Fatalf("scanAttributes accepted what layeh.Parse refuses: %v", err)
	}
	got := parseRequest(framed, []byte(testSecret), nil)
	if got.code() != want.Code || !bytes.Equal(got.authenticator(), want.Authenticator[:]) {
		t.Fatalf("header differs from layeh.Parse")
	}
	for _, f := range []struct {
		typ layeh.Type
		got []byte
	}{
		{rfc2865.UserName_Type, got.userName}, {rfc2865.UserPassword_Type, got.userPassword},
		{rfc2865.CHAPPassword_Type, got.chapPassword}, {rfc2865.CHAPChallenge_Type, got.chapChallenge},
		{rfc2865.CallingStationID_Type, got.callingStationID}, {rfc2865.CalledStationID_Type, got.calledStationID},
		{rfc2865.NASIdentifier_Type, got.nasIdentifier}, {rfc2865.NASIPAddress_Type, got.nasIPAddress},
		{rfc2865.Class_Type, got.class}, {rfc2866.AcctStatusType_Type, got.acctStatusType},
		{rfc2866.AcctSessionID_Type, got.acctSessionID}, {rfc2866.AcctInputOctets_Type, got.inOctets},
		{rfc2865.FramedIPAddress_Type, got.framedIPAddress},
	} {
		w, ok := want.Lookup(f.typ)
		if ok != (f.got != nil) || !bytes.Equal(w, f.got) {
			t.Fatalf("attribute %d: %x (present %v), layeh: %x (present %v)", f.typ, f.got, f.got != nil, w, ok)
		}
	}
	var buf [maxPassword]byte
	pw, ok := got.password(&buf)
	wpw, werr := rfc2865.UserPassword_Lookup(want)
	if ok != (werr == nil) || (ok && !bytes.Equal(pw, wpw)) {
		t.Fatalf("password %q (%v), layeh: %q (%v)", pw, ok, wpw, werr)
	}
}

// FuzzAccessRequest fuzzes the attributes of authentic Access-Requests: the
// fuzzer's bytes become the attribute section of a request signed with the
// client's secret, so that every input reaches the request handler (random
// datagrams almost never pass the Message-Authenticator).
func FuzzAccessRequest(f *testing.F) {
	fuzzSigned(f, layeh.CodeAccessRequest)
}

// FuzzAccountingRequest is FuzzAccessRequest for the accounting handler:
// the Request Authenticator is computed over the fuzzed attributes.
func FuzzAccountingRequest(f *testing.F) {
	fuzzSigned(f, layeh.CodeAccountingRequest)
}

func fuzzSigned(f *testing.F, code layeh.Code) {
	sessions := newFakeSessions()
	srv, err := New(testConfig(), Deps{Sessions: sessions, Locator: &fakeLocator{byNAS: map[string]string{"ap": "bahnhof"}},
		Networks: map[string]Bandwidth{"wifi4eu": {UpKbps: 1000, DownKbps: 5000}}})
	if err != nil {
		f.Fatal(err)
	}
	encodeAttrs := func(as ...attr) []byte {
		var b []byte
		for _, a := range as {
			b = append(b, byte(a.T), byte(2+len(a.V)))
			b = append(b, a.V...)
		}
		return b
	}
	f.Add(uint16(1), encodeAttrs(attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}, attr{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"}))
	f.Add(uint16(2), encodeAttrs(attr{rfc2865.UserName_Type, liveID}, attr{rfc2865.UserPassword_Type, "0123456789abcdef"}))
	f.Add(uint16(3), encodeAttrs(attr{rfc2865.UserName_Type, liveID}, attr{rfc2865.CHAPPassword_Type, "\x01abcdefghijklmnop"}))
	f.Add(uint16(4), encodeAttrs(attr{rfc2866.AcctStatusType_Type, "\x00\x00\x00\x03"}, attr{rfc2865.Class_Type, liveID},
		attr{rfc2866.AcctInputOctets_Type, "\x00\x00\x01\x00"}, attr{rfc2865.FramedIPAddress_Type, "\x0a\x00\x00\x01"},
		attr{rfc3162.FramedIPv6Prefix_Type, "\x00\x40\x20\x01\x0d\xb8\x00\x01"}))
	f.Add(uint16(5), encodeAttrs(attr{rfc2866.AcctStatusType_Type, "\x00\x00\x00\x07"}, attr{rfc2865.ProxyState_Type, "x"}))
	f.Add(uint16(6), []byte{})

	l := authListener
	if code == layeh.CodeAccountingRequest {
		l = acctListener
	}
	var port uint16
	f.Fuzz(func(t *testing.T, seq uint16, attrs []byte) {
		p := &layeh.Packet{Code: code, Identifier: byte(seq), Secret: []byte(testSecret)}
		if code == layeh.CodeAccessRequest {
			binary.BigEndian.PutUint16(p.Authenticator[:], seq)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, attrs...)
		if code == layeh.CodeAccessRequest {
			b = append(b, 80, 18)
			b = append(b, make([]byte, 16)...)
		}
		if len(b) > layeh.MaxPacketLength {
			return
		}
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		if _, _, err := scanAttributes(b); err != nil {
			return // the framing is FuzzHandlePacket's business
		}
		if code == layeh.CodeAccessRequest {
			h := hmac.New(md5.New, []byte(testSecret))
			h.Write(b)
			copy(b[len(b)-16:], h.Sum(nil))
		} else {
			h := md5.New()
			h.Write(b)
			h.Write([]byte(testSecret))
			copy(b[4:20], h.Sum(nil))
		}
		checkParseRequest(t, b)
		port++ // a new source each time: no input is a retransmission
		reply, out := srv.handle(l, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), b, replyBuffer())
		sessions.takeSeen()
		if reply == nil {
			if out.drop == dropNone {
				t.Fatalf("no reply and no drop reason: %+v", out)
			}
			return
		}
		if !layeh.IsAuthenticResponse(reply, b, []byte(testSecret)) {
			t.Fatal("reply is not authentic")
		}
		resp, err := layeh.Parse(reply, []byte(testSecret))
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		want := layeh.CodeAccountingResponse
		if code == layeh.CodeAccessRequest {
			if resp.Code != layeh.CodeAccessAccept && resp.Code != layeh.CodeAccessReject {
				t.Fatalf("answered with %v", resp.Code)
			}
			want = resp.Code
			if len(resp.Attributes) == 0 || resp.Attributes[0].Type != 80 {
				t.Fatal("no Message-Authenticator first")
			}
		}
		if resp.Code != want {
			t.Fatalf("answered with %v, want %v", resp.Code, want)
		}
		// Proxy-State comes back unchanged and in order.
		var in, back [][]byte
		for _, a := range parseAll(t, b) {
			if a.Type == rfc2865.ProxyState_Type {
				in = append(in, a.Attribute)
			}
		}
		for _, a := range resp.Attributes {
			if a.Type == rfc2865.ProxyState_Type {
				back = append(back, a.Attribute)
			}
		}
		if len(in) != len(back) {
			t.Fatalf("%d Proxy-State in, %d back", len(in), len(back))
		}
		for i := range in {
			if !bytes.Equal(in[i], back[i]) {
				t.Fatalf("Proxy-State %d changed", i)
			}
		}
	})
}

func parseAll(t *testing.T, b []byte) layeh.Attributes {
	p, err := layeh.Parse(b, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return p.Attributes
}
