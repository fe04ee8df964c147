package radius

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
)

// TestRepliesAreAllocatedExactly: every reply's buffer is allocated for
// exactly what it holds — no room to spare, which the duplicate cache
// would keep for DuplicateWindow and the collector go through for every
// request, and no second allocation for growing it. Across the attributes
// an Access-Accept may carry (Acct-Interim-Interval, Idle-Timeout,
// User-Name for CoovaChilli, each family's bandwidth attributes) and the
// Proxy-State every reply echoes.
func TestRepliesAreAllocatedExactly(t *testing.T) {
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
					reply, out := srv.handle(c.l, src, b)
					if out.reply != c.want {
						t.Fatalf("%s, %s: outcome %+v, want %v", name, c.what, out, c.want)
					}
					if len(reply) != cap(reply) {
						t.Errorf("%s, %s: %d octets in a buffer of %d", name, c.what, len(reply), cap(reply))
					}
					if proxied && len(reply) < 2*2+len("proxy-1")+len("a longer proxy state, 2") {
						t.Errorf("%s, %s: %d octets, too short for the Proxy-State echo", name, c.what, len(reply))
					}
				}
			}
		}
	}
}
