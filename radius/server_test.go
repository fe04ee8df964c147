package radius

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"roamgate/internal/testtool"
	"roamgate/session"
)

func TestAccessRequest(t *testing.T) {
	sessions := newFakeSessions()
	locator := &fakeLocator{byNAS: map[string]string{"bahnhof-ap1": "bahnhof"}}
	ts := startServer(t, testConfig(), Deps{Sessions: sessions, Locator: locator, IdleTimeout: 15 * time.Minute})
	addr := ts.AuthAddr()

	const (
		called = "02-AA-BB-CC-DD-EE:WiFi4EU"
		ap     = "02:aa:bb:cc:dd:ee"
	)
	tests := []struct {
		name     string
		attrs    []attr
		wantCode layeh.Code
		wantMsg  string      // Reply-Message of a reject
		wantSeen *seenCall   // Seen call of an accept
		wantLoc  *locateCall // Locator call of an accept
	}{
		{
			name: "accept/calling-station-id rfc3580",
			attrs: []attr{
				{rfc2865.UserName_Type, "02-1A-2B-3C-4D-5E"},
				{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"},
				{rfc2865.CalledStationID_Type, called},
				{rfc2865.NASIdentifier_Type, "bahnhof-ap1"},
				{rfc2865.NASIPAddress_Type, string([]byte{10, 9, 8, 7})},
			},
			wantCode: layeh.CodeAccessAccept,
			wantSeen: &seenCall{liveID, session.Activity{Location: "bahnhof", AP: ap, NAS: session.NAS{Addr: loopback, ID: "bahnhof-ap1"}}},
			wantLoc:  &locateCall{"bahnhof-ap1", ap, "WiFi4EU", netip.MustParseAddr("10.9.8.7")},
		},
		{
			name:     "accept/user-name only, colons",
			attrs:    []attr{{rfc2865.UserName_Type, "02:1a:2b:3c:4d:5e"}},
			wantCode: layeh.CodeAccessAccept,
			// No NAS-Identifier the locator knows: the client's location.
			wantSeen: &seenCall{liveID, session.Activity{Location: "rathaus", NAS: session.NAS{Addr: loopback}}},
			wantLoc:  &locateCall{NASIP: netip.MustParseAddr("127.0.0.1")},
		},
		{
			name:     "accept/calling-station-id only, hostapd bare hex",
			attrs:    []attr{{rfc2865.CallingStationID_Type, "021a2b3c4d5e"}, {rfc2865.CalledStationID_Type, "02aabbccddee:Stadt WLAN"}},
			wantCode: layeh.CodeAccessAccept,
			wantSeen: &seenCall{liveID, session.Activity{Location: "rathaus", AP: ap, NAS: session.NAS{Addr: loopback}}},
			wantLoc:  &locateCall{APMAC: ap, SSID: "Stadt WLAN", NASIP: netip.MustParseAddr("127.0.0.1")},
		},
		{
			name:     "accept/cisco dotted, upper case",
			attrs:    []attr{{rfc2865.CallingStationID_Type, "021A.2B3C.4D5E"}, {rfc2865.CalledStationID_Type, "02aa.bbcc.ddee"}},
			wantCode: layeh.CodeAccessAccept,
			wantSeen: &seenCall{liveID, session.Activity{Location: "rathaus", AP: ap, NAS: session.NAS{Addr: loopback}}},
		},
		{
			name: "accept/user-name is not a MAC, calling-station-id is",
			attrs: []attr{
				{rfc2865.UserName_Type, "guest"},
				{rfc2865.CallingStationID_Type, "02:1A:2B:3C:4D:5E"},
			},
			wantCode: layeh.CodeAccessAccept,
			wantSeen: &seenCall{liveID, session.Activity{Location: "rathaus", NAS: session.NAS{Addr: loopback}}},
		},
		{
			name: "reject/user-name and calling-station-id differ",
			attrs: []attr{
				{rfc2865.UserName_Type, "02-00-00-00-00-07"},
				{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"},
			},
			wantCode: layeh.CodeAccessReject,
			wantMsg:  msgMACMismatch,
		},
		{
			name:     "reject/no session",
			attrs:    []attr{{rfc2865.CallingStationID_Type, "AA-BB-CC-DD-EE-FF"}},
			wantCode: layeh.CodeAccessReject,
			wantMsg:  msgNoSession,
		},
		{
			name:     "reject/revoked session",
			attrs:    []attr{{rfc2865.CallingStationID_Type, "02-00-00-00-00-66"}},
			wantCode: layeh.CodeAccessReject,
			wantMsg:  msgNoSession,
		},
		{
			name:     "reject/no MAC anywhere",
			attrs:    []attr{{rfc2865.UserName_Type, "alice"}, {rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D"}},
			wantCode: layeh.CodeAccessReject,
			wantMsg:  msgNoMAC,
		},
		{
			name:     "reject/mixed separators are not a MAC",
			attrs:    []attr{{rfc2865.CallingStationID_Type, "02:1A-2B:3C-4D:5E"}},
			wantCode: layeh.CodeAccessReject,
			wantMsg:  msgNoMAC,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.Stats()
			req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, tt.attrs...))
			resp := mustExchange(t, req, addr)
			if resp.Code != tt.wantCode {
				t.Fatalf("got %v (%q), want %v", resp.Code, getString(resp, rfc2865.ReplyMessage_Type), tt.wantCode)
			}
			checkReplyMA(t, req, resp)
			out := ts.nextOutcome(t)
			if out.reply != tt.wantCode || out.drop != dropNone || out.client != "loopback" {
				t.Errorf("outcome %+v", out)
			}
			seen := sessions.takeSeen()
			after := ts.Stats()

			if tt.wantCode == layeh.CodeAccessReject {
				if got := getString(resp, rfc2865.ReplyMessage_Type); got != tt.wantMsg {
					t.Errorf("Reply-Message = %q, want %q", got, tt.wantMsg)
				}
				for _, typ := range []layeh.Type{rfc2865.SessionTimeout_Type, rfc2865.Class_Type} {
					if _, ok := resp.Lookup(typ); ok {
						t.Errorf("reject carries attribute %d", typ)
					}
				}
				if len(seen) != 0 {
					t.Errorf("Seen called on reject: %+v", seen)
				}
				if after.Rejected != before.Rejected+1 {
					t.Errorf("Rejected %d → %d", before.Rejected, after.Rejected)
				}
				return
			}

			if v, ok := getInt(t, resp, rfc2865.SessionTimeout_Type); !ok || v != 91 {
				t.Errorf("Session-Timeout = %d (present %v), want 91 (90.2s rounded up)", v, ok)
			}
			if v, ok := getInt(t, resp, rfc2869.AcctInterimInterval_Type); !ok || v != 300 {
				t.Errorf("Acct-Interim-Interval = %d (present %v), want 300", v, ok)
			}
			if v, ok := getInt(t, resp, rfc2865.IdleTimeout_Type); !ok || v != 900 {
				t.Errorf("Idle-Timeout = %d (present %v), want 900", v, ok)
			}
			if got := getString(resp, rfc2865.Class_Type); got != liveID {
				t.Errorf("Class = %q, want the session ID %q", got, liveID)
			}
			if len(seen) != 1 || seen[0] != *tt.wantSeen {
				t.Errorf("Seen calls %+v, want [%+v]", seen, *tt.wantSeen)
			}
			if tt.wantLoc != nil {
				if got := locator.lastCall(); got != *tt.wantLoc {
					t.Errorf("Locate(%+v), want %+v", got, *tt.wantLoc)
				}
			}
			if after.Accepted != before.Accepted+1 {
				t.Errorf("Accepted %d → %d", before.Accepted, after.Accepted)
			}
		})
	}
}

func TestAcceptWithoutOptionalAttributes(t *testing.T) {
	cfg := testConfig()
	cfg.InterimInterval = 0
	sessions := newFakeSessions()
	sessions.timeLeft = -time.Second // ended a moment ago: still at least 1s
	ts := startServer(t, cfg, Deps{Sessions: sessions})
	req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	resp := mustExchange(t, req, ts.AuthAddr())
	if resp.Code != layeh.CodeAccessAccept {
		t.Fatalf("got %v", resp.Code)
	}
	checkReplyMA(t, req, resp)
	if v, _ := getInt(t, resp, rfc2865.SessionTimeout_Type); v != 1 {
		t.Errorf("Session-Timeout = %d, want 1", v)
	}
	for _, typ := range []layeh.Type{rfc2869.AcctInterimInterval_Type, rfc2865.IdleTimeout_Type} {
		if _, ok := resp.Lookup(typ); ok {
			t.Errorf("attribute %d present, want it left out", typ)
		}
	}
}

func TestProxyStateEchoed(t *testing.T) {
	ts := startServer(t, testConfig(), Deps{Sessions: newFakeSessions()})
	states := []string{"first\x00state", "second"}
	for _, tt := range []struct {
		name     string
		mac      string
		wantCode layeh.Code
	}{
		{"accept", "02-1A-2B-3C-4D-5E", layeh.CodeAccessAccept},
		{"reject", "02-1A-2B-3C-4D-FF", layeh.CodeAccessReject},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret,
				attr{rfc2865.ProxyState_Type, states[0]},
				attr{rfc2865.CallingStationID_Type, tt.mac},
				attr{rfc2865.ProxyState_Type, states[1]},
			))
			resp := mustExchange(t, req, ts.AuthAddr())
			if resp.Code != tt.wantCode {
				t.Fatalf("got %v, want %v", resp.Code, tt.wantCode)
			}
			checkReplyMA(t, req, resp)
			got, _ := rfc2865.ProxyState_GetStrings(resp)
			if !slices.Equal(got, states) {
				t.Errorf("Proxy-State %q, want %q in order", got, states)
			}
		})
	}
}

func TestSilentDrops(t *testing.T) {
	macAttr := attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}
	globalOff := func(c *Config) { c.RequireMessageAuthenticator = false }
	clientOn := func(c *Config) {
		c.RequireMessageAuthenticator = false
		c.Clients[0].RequireMessageAuthenticator = new(true)
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		acct  bool // send to the accounting port
		build func(t *testing.T) *layeh.Packet
		want  dropReason
	}{
		{
			name: "unknown client",
			cfg:  func(c *Config) { c.Clients[0].CIDR = "10.0.0.0/8" },
			build: func(t *testing.T) *layeh.Packet {
				return sign(t, newRequest(layeh.CodeAccessRequest, testSecret, macAttr))
			},
			want: dropUnknownClient,
		},
		{
			name: "wrong secret",
			build: func(t *testing.T) *layeh.Packet {
				return sign(t, newRequest(layeh.CodeAccessRequest, "not-the-secret", macAttr))
			},
			want: dropBadAuthenticator,
		},
		{
			name: "message-authenticator missing, required by default",
			build: func(t *testing.T) *layeh.Packet {
				return newRequest(layeh.CodeAccessRequest, testSecret, macAttr)
			},
			want: dropMissingAuthenticator,
		},
		{
			name: "message-authenticator missing, required by the client entry",
			cfg:  clientOn,
			build: func(t *testing.T) *layeh.Packet {
				return newRequest(layeh.CodeAccessRequest, testSecret, macAttr)
			},
			want: dropMissingAuthenticator,
		},
		{
			name: "message-authenticator wrong",
			cfg:  globalOff, // verified whenever present, required or not
			build: func(t *testing.T) *layeh.Packet {
				p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, macAttr))
				p.Get(80)[3] ^= 0x01
				return p
			},
			want: dropBadAuthenticator,
		},
		{
			name: "message-authenticator over a changed packet",
			build: func(t *testing.T) *layeh.Packet {
				p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, macAttr))
				p.Attributes[0].Attribute = layeh.Attribute("02-00-00-00-00-07")
				return p
			},
			want: dropBadAuthenticator,
		},
		{
			name: "two message-authenticators",
			build: func(t *testing.T) *layeh.Packet {
				p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, macAttr))
				p.Add(80, p.Get(80))
				return p
			},
			want: dropMalformed,
		},
		{
			name: "access-request on the accounting port",
			acct: true,
			build: func(t *testing.T) *layeh.Packet {
				return sign(t, newRequest(layeh.CodeAccessRequest, testSecret, macAttr))
			},
			want: dropUnsupported,
		},
		{
			name: "status-server without message-authenticator",
			build: func(t *testing.T) *layeh.Packet {
				return newRequest(layeh.CodeStatusServer, testSecret)
			},
			want: dropMissingAuthenticator,
		},
		{
			name: "accounting-request on the auth port",
			build: func(t *testing.T) *layeh.Packet {
				return newRequest(layeh.CodeAccountingRequest, testSecret, attr{rfc2865.Class_Type, liveID})
			},
			want: dropUnsupported,
		},
		{
			name: "accounting-request with the wrong secret",
			acct: true,
			build: func(t *testing.T) *layeh.Packet {
				return newRequest(layeh.CodeAccountingRequest, "not-the-secret", attr{rfc2865.Class_Type, liveID})
			},
			want: dropBadAuthenticator,
		},
		{
			name: "accounting-request with a wrong message-authenticator",
			acct: true,
			build: func(t *testing.T) *layeh.Packet {
				p := sign(t, newRequest(layeh.CodeAccountingRequest, testSecret, attr{rfc2865.Class_Type, liveID}))
				p.Get(80)[0] ^= 0x80 // the Request Authenticator, computed at encoding, still holds
				return p
			},
			want: dropBadAuthenticator,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			ts := startServer(t, cfg, Deps{Sessions: newFakeSessions()})
			addr := ts.AuthAddr()
			if tt.acct {
				addr = ts.AcctAddr()
			}
			expectSilence(t, ts, tt.build(t), addr, tt.want)
			st := ts.Stats()
			if got := dropCount(st.Dropped, tt.want); got != 1 {
				t.Errorf("Stats().Dropped = %+v, want 1 for %v", st.Dropped, tt.want)
			}
		})
	}
}

func dropCount(d Drops, r dropReason) uint64 {
	switch r {
	case dropUnknownClient:
		return d.UnknownClient
	case dropBadAuthenticator:
		return d.BadAuthenticator
	case dropMissingAuthenticator:
		return d.MissingAuthenticator
	case dropMalformed:
		return d.Malformed
	case dropUnsupported:
		return d.Unsupported
	}
	return 0
}

// TestMalformedDatagrams sends raw bytes: what layeh's client cannot build.
func TestMalformedDatagrams(t *testing.T) {
	valid := func(t *testing.T) []byte {
		p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		want   dropReason
	}{
		{"empty", func([]byte) []byte { return nil }, dropMalformed},
		{"header only, short", func(b []byte) []byte { return b[:19] }, dropMalformed},
		{"length beyond datagram", func(b []byte) []byte { b[3] += 10; return b }, dropMalformed},
		{"length below header", func(b []byte) []byte { b[2], b[3] = 0, 19; return b }, dropMalformed},
		{"attribute length zero", func(b []byte) []byte { b[21] = 0; return b }, dropMalformed},
		{"attribute overruns", func(b []byte) []byte { b[21] = 250; return b }, dropMalformed},
		{"message-authenticator short", func(b []byte) []byte {
			// Re-frame the MA (the last attribute) as 15 octets.
			b = b[:len(b)-1]
			b[len(b)-16] = 17
			b[2], b[3] = byte(len(b)>>8), byte(len(b))
			return b
		}, dropMalformed},
		{"unknown code", func(b []byte) []byte { b[0] = 99; return b }, dropUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, testConfig(), Deps{Sessions: newFakeSessions()})
			conn, err := net.Dial("udp", ts.AuthAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(tt.mangle(valid(t))); err != nil {
				t.Fatal(err)
			}
			out := ts.nextOutcome(t)
			if out.drop != tt.want || out.reply != 0 {
				t.Errorf("outcome %+v, want drop %v", out, tt.want)
			}
			// The server has decided; a reply would already be queued.
			conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			var buf [64]byte
			if n, err := conn.Read(buf[:]); err == nil {
				t.Errorf("got a %d-byte answer", n)
			}
		})
	}
}

// TestPadding: octets beyond the Length field are padding (RFC 2865 §3).
func TestPadding(t *testing.T) {
	ts := startServer(t, testConfig(), Deps{Sessions: newFakeSessions()})
	req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", ts.AuthAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(append(b, "padding"...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !layeh.IsAuthenticResponse(buf[:n], b, []byte(testSecret)) {
		t.Fatal("reply is not authentic")
	}
	resp, err := layeh.Parse(buf[:n], []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != layeh.CodeAccessAccept {
		t.Fatalf("got %v", resp.Code)
	}
	checkReplyMA(t, req, resp)
}

func TestMessageAuthenticatorNotRequired(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"client entry off", func(c *Config) { c.Clients[0].RequireMessageAuthenticator = new(false) }},
		{"global off", func(c *Config) { c.RequireMessageAuthenticator = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.cfg(&cfg)
			ts := startServer(t, cfg, Deps{Sessions: newFakeSessions()})
			req := newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"})
			resp := mustExchange(t, req, ts.AuthAddr())
			if resp.Code != layeh.CodeAccessAccept {
				t.Fatalf("got %v, want Access-Accept", resp.Code)
			}
			checkReplyMA(t, req, resp) // the reply is signed all the same
		})
	}
}

// TestLongestPrefixPicksSecret: the client of the longest matching prefix
// decides the secret and the location.
func TestLongestPrefixPicksSecret(t *testing.T) {
	cfg := testConfig()
	cfg.Clients = []Client{
		{Name: "wide", CIDR: "127.0.0.0/8", Secret: "wide-secret", Location: "stadtpark"},
		{Name: "host", CIDR: "127.0.0.1", Secret: testSecret, Location: "bahnhof"},
		{Name: "middle", CIDR: "127.0.0.0/24", Secret: "middle-secret", Location: "rathaus"},
	}
	sessions := newFakeSessions()
	ts := startServer(t, cfg, Deps{Sessions: sessions})
	req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	resp := mustExchange(t, req, ts.AuthAddr())
	if resp.Code != layeh.CodeAccessAccept {
		t.Fatalf("got %v", resp.Code)
	}
	if out := ts.nextOutcome(t); out.client != "host" {
		t.Errorf("client %q, want host", out.client)
	}
	if seen := sessions.takeSeen(); len(seen) != 1 || seen[0].A.Location != "bahnhof" {
		t.Errorf("Seen %+v, want location bahnhof", seen)
	}
	expectSilence(t, ts, sign(t, newRequest(layeh.CodeAccessRequest, "wide-secret", attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"})), ts.AuthAddr(), dropBadAuthenticator)
}

func TestAccounting(t *testing.T) {
	sessions := newFakeSessions()
	locator := &fakeLocator{byNAS: map[string]string{"park-ap": "stadtpark"}}
	ts := startServer(t, testConfig(), Deps{Sessions: sessions, Locator: locator})
	status := func(v rfc2866.AcctStatusType) attr {
		return attr{rfc2866.AcctStatusType_Type, string(layeh.NewInteger(uint32(v)))}
	}
	integer := func(typ layeh.Type, v uint32) attr { return attr{typ, string(layeh.NewInteger(v))} }
	tests := []struct {
		name     string
		signed   bool
		attrs    []attr
		wantSeen []seenCall
	}{
		{
			name: "interim-update with class records activity",
			attrs: []attr{
				status(rfc2866.AcctStatusType_Value_InterimUpdate),
				{rfc2865.Class_Type, liveID},
				{rfc2865.NASIdentifier_Type, "park-ap"},
				{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"},
				integer(rfc2866.AcctInputOctets_Type, 1000),
				integer(rfc2869.AcctInputGigawords_Type, 1),
				integer(rfc2866.AcctOutputOctets_Type, 42),
			},
			wantSeen: []seenCall{{liveID, session.Activity{Kind: session.ActivityInterim, Location: "stadtpark", AP: "02:aa:bb:cc:dd:ee", InputOctets: 1<<32 + 1000, OutputOctets: 42,
				NAS: session.NAS{Addr: loopback, ID: "park-ap"}}}},
		},
		{
			name:     "start with message-authenticator",
			signed:   true,
			attrs:    []attr{status(rfc2866.AcctStatusType_Value_Start), {rfc2865.Class_Type, otherID}},
			wantSeen: []seenCall{{otherID, session.Activity{Kind: session.ActivityStart, Location: "rathaus", NAS: session.NAS{Addr: loopback}}}},
		},
		{
			name:  "stop for an unknown session is answered",
			attrs: []attr{status(rfc2866.AcctStatusType_Value_Stop), {rfc2865.Class_Type, "00000000000000000000000000000000"}},
		},
		{
			name:  "class that is no session ID",
			attrs: []attr{status(rfc2866.AcctStatusType_Value_Start), {rfc2865.Class_Type, "../../etc/passwd"}},
		},
		{
			name:  "accounting-on",
			attrs: []attr{status(rfc2866.AcctStatusType_Value_AccountingOn)},
		},
		{
			name:  "no status type",
			attrs: []attr{{rfc2865.Class_Type, liveID}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.Stats()
			attrs := append([]attr{{rfc2865.ProxyState_Type, "proxy-1"}}, tt.attrs...)
			req := newRequest(layeh.CodeAccountingRequest, testSecret, attrs...)
			if tt.signed {
				sign(t, req)
			}
			resp := mustExchange(t, req, ts.AcctAddr()) // verifies the Response Authenticator
			if resp.Code != layeh.CodeAccountingResponse {
				t.Fatalf("got %v", resp.Code)
			}
			if got := getString(resp, rfc2865.ProxyState_Type); got != "proxy-1" {
				t.Errorf("Proxy-State %q, want proxy-1", got)
			}
			if out := ts.nextOutcome(t); out.reply != layeh.CodeAccountingResponse {
				t.Errorf("outcome %+v", out)
			}
			seen := sessions.takeSeen()
			for i := range seen {
				// When it happened is the arrival (no Acct-Delay-Time,
				// no Event-Timestamp): TestEventTime checks it.
				if d := time.Since(seen[i].A.At); d < 0 || d > time.Minute {
					t.Errorf("Activity.At = %v, want the arrival", seen[i].A.At)
				}
				seen[i].A.At = time.Time{}
			}
			if !slices.Equal(seen, tt.wantSeen) {
				t.Errorf("Seen %+v, want %+v", seen, tt.wantSeen)
			}
			if after := ts.Stats(); after.AccountingResponses != before.AccountingResponses+1 {
				t.Errorf("AccountingResponses %d → %d", before.AccountingResponses, after.AccountingResponses)
			}
		})
	}
}

func TestServeLifecycle(t *testing.T) {
	t.Run("serve returns ErrServerClosed when its context ends", func(t *testing.T) {
		srv, err := New(testConfig(), Deps{Sessions: newFakeSessions()})
		if err != nil {
			t.Fatal(err)
		}
		if srv.AuthAddr() != nil || srv.AcctAddr() != nil {
			t.Fatal("addresses before Listen")
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		auth, acct := srv.AuthAddr().(*net.UDPAddr), srv.AcctAddr().(*net.UDPAddr)
		if auth.Port == 0 || acct.Port == 0 || auth.Port == acct.Port {
			t.Fatalf("auth %v acct %v", auth, acct)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx) }()
		req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
		mustExchange(t, req, auth) // serving
		cancel()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve = %v, want ErrServerClosed", err)
		}
		if err := srv.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve after stop = %v, want ErrServerClosed", err)
		}
		// The port is free again.
		pc, err := net.ListenUDP("udp", auth)
		if err != nil {
			t.Fatalf("port still taken: %v", err)
		}
		pc.Close()
	})
	t.Run("shutdown stops serve", func(t *testing.T) {
		srv, err := New(testConfig(), Deps{Sessions: newFakeSessions()})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(context.Background()) }()
		req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
		mustExchange(t, req, srv.AuthAddr()) // serving
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve = %v, want ErrServerClosed", err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
	t.Run("shutdown before serve", func(t *testing.T) {
		srv, err := New(testConfig(), Deps{Sessions: newFakeSessions()})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Listen after Shutdown = %v", err)
		}
	})
	t.Run("listen error", func(t *testing.T) {
		taken, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		for _, key := range []string{"auth_listen", "acct_listen"} {
			cfg := testConfig()
			if key == "auth_listen" {
				cfg.AuthListen = taken.LocalAddr().String()
			} else {
				cfg.AcctListen = taken.LocalAddr().String()
			}
			srv, err := New(cfg, Deps{Sessions: newFakeSessions()})
			if err != nil {
				t.Fatal(err)
			}
			err = srv.Serve(context.Background())
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("Serve = %v, want an error naming %s", err, key)
			}
			if srv.AuthAddr() != nil {
				t.Errorf("%s: auth socket left open after a failed Listen", key)
			}
		}
	})
}

// heldSessions holds every ByMAC until release is closed, after
// telling entered: a request in hand while the server shuts down.
type heldSessions struct {
	*fakeSessions
	entered chan struct{}
	release chan struct{}
}

func (b *heldSessions) ByMAC(m session.MAC) (session.Session, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.fakeSessions.ByMAC(m)
}

// TestShutdownAnswersRequestsInHand: a request read before Shutdown is
// answered through the socket it came in by (Shutdown stops the reading,
// drains the workers, and only then closes the sockets).
func TestShutdownAnswersRequestsInHand(t *testing.T) {
	sessions := &heldSessions{fakeSessions: newFakeSessions(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, err := New(testConfig(), Deps{Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	req := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	answered := make(chan error, 1)
	go func() {
		resp, err := exchange(req, srv.AuthAddr(), 10*time.Second)
		if err == nil && resp.Code != layeh.CodeAccessAccept {
			err = errors.New(resp.Code.String())
		}
		answered <- err
	}()
	select {
	case <-sessions.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- srv.Shutdown(ctx)
	}()
	for !srv.stopping() {
		time.Sleep(time.Millisecond) // poll until Shutdown has begun, bounded by the test's timeout
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown = %v before the request in hand was answered", err)
	default:
	}
	close(sessions.release)
	if err := <-answered; err != nil {
		t.Errorf("request in hand during Shutdown: %v, want an Access-Accept", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		deps Deps
		want string
	}{
		{"no sessions", nil, Deps{}, "Deps.Sessions"},
		{"invalid config", func(c *Config) { c.Clients[0].Secret = "" }, Deps{Sessions: newFakeSessions()}, "radius.clients[0].secret: missing"},
		{"negative idle timeout", nil, Deps{Sessions: newFakeSessions(), IdleTimeout: -time.Second}, "IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := New(cfg, tt.deps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestPerPacketLogging: one line per packet at debug level, none above.
func TestPerPacketLogging(t *testing.T) {
	tests := []struct {
		level   slog.Level
		want    bool
		pattern string
	}{
		{slog.LevelInfo, false, ""},
		{slog.LevelDebug, true, `msg="radius: packet" listener=auth from=127.0.0.1:\d+ client=loopback code=Access-Request reply=none drop=missing_authenticator`},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var logs testtool.LogBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tt.level}))
			ts := startServer(t, testConfig(), Deps{Sessions: newFakeSessions(), Logger: logger})
			expectSilence(t, ts, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}), ts.AuthAddr(), dropMissingAuthenticator)
			// The line is written before the outcome is observed.
			got := logs.String()
			if has := strings.Contains(got, "radius: packet"); has != tt.want {
				t.Fatalf("per-packet line present %v, want %v; log:\n%s", has, tt.want, got)
			}
			if tt.want && !regexp.MustCompile(tt.pattern).MatchString(got) {
				t.Errorf("log does not match %q:\n%s", tt.pattern, got)
			}
			if !strings.Contains(got, `msg="radius: serving"`) {
				t.Errorf("no start line:\n%s", got)
			}
		})
	}
}

var loopback = netip.MustParseAddr("127.0.0.1")
