package radius

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"net/netip"
	"testing"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
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
		reply, out := srv.handle(l, src, b)
		sessions.takeSeen()

		if !bytes.Equal(in, b) {
			t.Fatal("handle modified its input")
		}
		after := srv.Stats()
		if after.Received != before.Received+1 {
			t.Fatalf("Received %d → %d", before.Received, after.Received)
		}
		answers := func(s Stats) uint64 { return s.Accepted + s.Rejected + s.AccountingResponses }
		if reply == nil {
			if out.drop == dropNone || after.Dropped.Total() != before.Dropped.Total()+1 || answers(after) != answers(before) {
				t.Fatalf("no reply, but outcome %+v and stats %+v → %+v", out, before, after)
			}
			return
		}
		if out.drop != dropNone || answers(after) != answers(before)+1 || after.Dropped != before.Dropped {
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
// parser agrees with layeh.Parse.
func checkParseRequest(t *testing.T, b []byte) {
	framed, err := frame(b)
	if err != nil {
		return
	}
	_, count, err := scanAttributes(framed)
	if err != nil {
		return
	}
	want, err := layeh.Parse(framed, []byte(testSecret))
	if err != nil {
		t.Fatalf("scanAttributes accepted what layeh.Parse refuses: %v", err)
	}
	got := parseRequest(framed, []byte(testSecret), count)
	if got.Code != want.Code || got.Identifier != want.Identifier || got.Authenticator != want.Authenticator ||
		len(got.Attributes) != len(want.Attributes) || count != len(want.Attributes) {
		t.Fatalf("parseRequest = %+v, layeh.Parse = %+v", got, want)
	}
	for i := range got.Attributes {
		if got.Attributes[i].Type != want.Attributes[i].Type || !bytes.Equal(got.Attributes[i].Attribute, want.Attributes[i].Attribute) {
			t.Fatalf("attribute %d: %+v, want %+v", i, got.Attributes[i], want.Attributes[i])
		}
	}
}
