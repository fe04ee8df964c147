package radius

import (
	"net/netip"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/mikrotik"

	"roamgate/apfamily"
	"roamgate/radius/vendors/airespace"
	"roamgate/radius/vendors/aruba"
	"roamgate/radius/vendors/chillispot"
	"roamgate/radius/vendors/wispr"
	"roamgate/session"
)

func TestAddBandwidth(t *testing.T) {
	bw := Bandwidth{UpKbps: 2000, DownKbps: 16000, Role: "guest-16m"}
	chilli := func(t *testing.T, p *layeh.Packet) {
		if up, down := chillispot.ChilliSpotBandwidthMaxUp_Get(p), chillispot.ChilliSpotBandwidthMaxDown_Get(p); up != 2000 || down != 16000 {
			t.Errorf("ChilliSpot up/down = %d/%d kbit/s, want 2000/16000", up, down)
		}
	}
	none := func(t *testing.T, p *layeh.Packet) {
		if len(p.Attributes) != 0 {
			t.Errorf("attributes for a family without rate-limit attributes: %v", types(p))
		}
	}
	tests := []struct {
		vendor string
		check  func(t *testing.T, p *layeh.Packet)
	}{
		{"coova", chilli},
		// Aliases and implementations of the family get its attributes.
		{"chillispot", chilli},
		{"coovachilli", chilli},
		{"chilli", chilli},
		{"uspot", chilli},
		{"wispr", func(t *testing.T, p *layeh.Packet) {
			if up, down := wispr.WISPrBandwidthMaxUp_Get(p), wispr.WISPrBandwidthMaxDown_Get(p); up != 2_000_000 || down != 16_000_000 {
				t.Errorf("WISPr up/down = %d/%d bit/s, want 2000000/16000000", up, down)
			}
		}},
		{"mikrotik", func(t *testing.T, p *layeh.Packet) {
			if got := mikrotik.MikrotikRateLimit_GetString(p); got != "2000k/16000k" {
				t.Errorf("Mikrotik-Rate-Limit = %q, want 2000k/16000k", got)
			}
		}},
		{"cisco-wlc", func(t *testing.T, p *layeh.Packet) {
			if down, up := airespace.AirespaceDataBandwidthAverageContract_Get(p), airespace.AirespaceDataBandwidthAverageContractUpstream_Get(p); down != 16000 || up != 2000 {
				t.Errorf("Airespace contracts down/up = %d/%d kbit/s, want 16000/2000", down, up)
			}
		}},
		{"aruba-instant", func(t *testing.T, p *layeh.Packet) {
			if got := aruba.ArubaUserRole_GetString(p); got != "guest-16m" {
				t.Errorf("Aruba-User-Role = %q", got)
			}
		}},
		{"meraki", func(t *testing.T, p *layeh.Packet) {
			if got := rfc2865.FilterID_GetString(p); got != "guest-16m" {
				t.Errorf("Filter-Id = %q", got)
			}
		}},
		{"hostapd", none},
		{"mac-auth", none},
		{"unifi", none},
		{"", none},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			k, ok := apfamily.Lookup(tt.vendor)
			if !ok {
				t.Fatalf("%q is not in apfamily", tt.vendor)
			}
			p := layeh.New(layeh.CodeAccessAccept, []byte(testSecret))
			addBandwidth(p, k, bw)
			// Round trip through the wire format, as the access point sees it.
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			q, err := layeh.Parse(b, []byte(testSecret))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, q)
		})
	}
}

// TestAcceptRecordsChanges: an Access-Request from where the session already
// is, seen recently, records nothing (the hot path stays free of index
// writes); a new AP, NAS or a stale LastSeen is recorded.
func TestAcceptRecordsChanges(t *testing.T) {
	here := session.NAS{Addr: netip.MustParseAddr("127.0.0.1"), ID: "ap1", AcctSessionID: "acct-1"}
	tests := []struct {
		name     string
		lastSeen time.Duration // ago
		attrs    []attr
		wantSeen bool
		wantNAS  session.NAS
	}{
		{"same place, seen recently", time.Second, []attr{{rfc2865.NASIdentifier_Type, "ap1"}, {rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"}}, false, session.NAS{}},
		{"another AP", time.Second, []attr{{rfc2865.NASIdentifier_Type, "ap1"}, {rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-FF:WiFi4EU"}}, true, here},
		{"another NAS", time.Second, []attr{{rfc2865.NASIdentifier_Type, "ap2"}, {rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE"}}, true,
			session.NAS{Addr: here.Addr, ID: "ap2"}},
		{"same place, stale", time.Hour, []attr{{rfc2865.NASIdentifier_Type, "ap1"}, {rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE"}}, true, here},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sessions := newFakeSessions()
			s := sessions.byMAC[liveMAC]
			s.CurrentLocation, s.AP, s.NAS, s.LastSeen = "rathaus", "02:aa:bb:cc:dd:ee", here, time.Now().Add(-tt.lastSeen)
			sessions.byMAC[liveMAC] = s
			srv, err := New(testConfig(), Deps{Sessions: sessions})
			if err != nil {
				t.Fatal(err)
			}
			p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, append(tt.attrs, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"})...))
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			_, out := srv.handle(authListener, netip.MustParseAddrPort("127.0.0.1:5000"), b, replyBuffer())
			if out.reply != layeh.CodeAccessAccept {
				t.Fatalf("outcome %+v", out)
			}
			seen := sessions.takeSeen()
			if (len(seen) == 1) != tt.wantSeen || len(seen) > 1 {
				t.Fatalf("Seen calls %+v, want recorded %v", seen, tt.wantSeen)
			}
			if tt.wantSeen && seen[0].A.NAS != tt.wantNAS {
				t.Errorf("recorded NAS %+v, want %+v (the accounting handle kept only for the same NAS)", seen[0].A.NAS, tt.wantNAS)
			}
		})
	}
}

// TestMACAuthPassword: the password of MAC authentication must name the
// request's MAC. The same octets as an attribute that holds the MAC need
// no parsing, but the octets of an attribute that is no MAC prove nothing.
func TestMACAuthPassword(t *testing.T) {
	const live = "02-1A-2B-3C-4D-5E" // liveMAC
	tests := []struct {
		name          string
		csi, userName string // "" = absent
		password      string
		accept        bool
		wantReplyMsg  string
	}{
		{"all three the same octets", live, live, live, true, ""},
		{"the User-Name's octets, no Calling-Station-Id", "", live, live, true, ""},
		{"another notation of the MAC", live, live, "021a2b3c4d5e", true, ""},
		{"User-Name and Calling-Station-Id differ in case only", live, "02-1a-2b-3c-4d-5e", live, true, ""},
		{"another MAC", live, live, "02-1A-2B-3C-4D-5F", false, msgBadPassword},
		{"the octets of a Calling-Station-Id that is no MAC", "lobby-kiosk", live, "lobby-kiosk", false, msgBadPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := New(testConfig(), Deps{Sessions: newFakeSessions()})
			if err != nil {
				t.Fatal(err)
			}
			var attrs []attr
			if tt.csi != "" {
				attrs = append(attrs, attr{rfc2865.CallingStationID_Type, tt.csi})
			}
			if tt.userName != "" {
				attrs = append(attrs, attr{rfc2865.UserName_Type, tt.userName})
			}
			p := newRequest(layeh.CodeAccessRequest, testSecret, attrs...)
			if err := rfc2865.UserPassword_SetString(p, tt.password); err != nil {
				t.Fatal(err)
			}
			b, err := sign(t, p).Encode()
			if err != nil {
				t.Fatal(err)
			}
			reply, out := srv.handle(authListener, netip.MustParseAddrPort("127.0.0.1:5000"), b, replyBuffer())
			if want := map[bool]layeh.Code{true: layeh.CodeAccessAccept, false: layeh.CodeAccessReject}[tt.accept]; out.reply != want {
				t.Fatalf("%v, want %v", out.reply, want)
			}
			if tt.wantReplyMsg != "" {
				r, err := layeh.Parse(reply, []byte(testSecret))
				if err != nil {
					t.Fatal(err)
				}
				if got := rfc2865.ReplyMessage_GetString(r); got != tt.wantReplyMsg {
					t.Errorf("Reply-Message %q, want %q", got, tt.wantReplyMsg)
				}
			}
		})
	}
}
