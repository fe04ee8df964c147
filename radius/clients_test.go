package radius

import (
	"net/netip"
	"testing"
	"time"

	"roamgate/session"
)

func TestClientTableLookup(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequireMessageAuthenticator = true
	cfg.Clients = []Client{
		{Name: "wide", CIDR: "10.0.0.0/8", Secret: "aaaaaaaaaaaaaaaa"},
		{CIDR: "10.1.2.3", Secret: "cccccccccccccccc", RequireMessageAuthenticator: new(false), CoAPort: 1700},
		{Name: "middle", CIDR: "10.1.0.0/16", Secret: "bbbbbbbbbbbbbbbb", Location: "bahnhof"},
		{Name: "v6", CIDR: "2001:db8::/32", Secret: "dddddddddddddddd"},
		{Name: "v6-host", CIDR: "2001:db8::1", Secret: "eeeeeeeeeeeeeeee"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	table, err := newClientTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want string // client name; "" = none
	}{
		{"10.9.9.9", "wide"},
		{"10.1.200.1", "middle"},
		{"10.1.2.3", "10.1.2.3"}, // unnamed: named by its CIDR
		{"10.1.2.4", "middle"},
		{"::ffff:10.1.2.3", "10.1.2.3"}, // IPv4 on a dual-stack socket
		{"::ffff:10.9.0.1", "wide"},
		{"11.0.0.1", ""},
		{"127.0.0.1", ""},
		{"2001:db8::1", "v6-host"},
		{"2001:db8::2", "v6"},
		{"fe80::1%eth0", ""},
		{"2001:db9::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c := table.lookup(netip.MustParseAddr(tt.addr))
			got := ""
			if c != nil {
				got = c.name
			}
			if got != tt.want {
				t.Errorf("lookup(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}

	host := table.lookup(netip.MustParseAddr("10.1.2.3"))
	if host.requireMA || host.coaPort != 1700 || string(host.secret) != "cccccccccccccccc" {
		t.Errorf("host entry %+v", host)
	}
	middle := table.lookup(netip.MustParseAddr("10.1.0.1"))
	if !middle.requireMA || middle.coaPort != DefaultCoAPort || middle.location != "bahnhof" {
		t.Errorf("middle entry %+v", middle)
	}
}

func TestSplitCalledStationID(t *testing.T) {
	tests := []struct {
		in, ap, ssid string
	}{
		{"AA-BB-CC-DD-EE-FF:WiFi4EU", "aa:bb:cc:dd:ee:ff", "WiFi4EU"},
		{"aa:bb:cc:dd:ee:ff:WiFi4EU", "aa:bb:cc:dd:ee:ff", "WiFi4EU"},
		{"aabbccddeeff:WiFi4EU", "aa:bb:cc:dd:ee:ff", "WiFi4EU"},
		{"aabb.ccdd.eeff:Stadt: WLAN", "aa:bb:cc:dd:ee:ff", "Stadt: WLAN"},
		{"AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", ""},
		{"AA-BB-CC-DD-EE-FF:", "aa:bb:cc:dd:ee:ff", ""},
		{"WiFi4EU", "", ""},
		{"AA-BB-CC-DD-EE-FFX", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ap, ssid := splitCalledStationID([]byte(tt.in))
			if ap != tt.ap || ssid != tt.ssid {
				t.Errorf("split(%q) = %q, %q; want %q, %q", tt.in, ap, ssid, tt.ap, tt.ssid)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint32
	}{
		{-time.Hour, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{90*time.Second + 200*time.Millisecond, 91},
		{5 * time.Minute, 300},
		{1 << 62, 1<<32 - 1},
	}
	for _, tt := range tests {
		if got := seconds(tt.d); got != tt.want {
			t.Errorf("seconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestScanAttributes(t *testing.T) {
	hdr := make([]byte, headerLen)
	ma := append([]byte{80, 18}, make([]byte, 16)...)
	tests := []struct {
		name    string
		attrs   []byte
		wantOff int
		wantErr error
	}{
		{"none", nil, -1, nil},
		{"one plain", []byte{1, 3, 'x'}, -1, nil},
		{"empty value", []byte{1, 2}, -1, nil},
		{"ma second", append([]byte{1, 3, 'x'}, ma...), headerLen + 3 + 2, nil},
		{"ma twice", append(append([]byte{}, ma...), ma...), -1, errMADuplicate},
		{"ma short", []byte{80, 4, 0, 0}, -1, errMALength},
		{"length 1", []byte{1, 1}, -1, errAttrFraming},
		{"overrun", []byte{1, 9, 'x'}, -1, errAttrFraming},
		{"dangling type", []byte{1, 3, 'x', 7}, -1, errAttrFraming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, _, err := scanAttributes(append(append([]byte{}, hdr...), tt.attrs...))
			if off != tt.wantOff || err != tt.wantErr {
				t.Errorf("scanAttributes = %d, %v; want %d, %v", off, err, tt.wantOff, tt.wantErr)
			}
		})
	}
}

// bothLocator is a fakeLocator that has LocateAttributes too, and records
// its calls to it as the Locate call they stand for.
type bothLocator struct {
	fakeLocator
	attrCalls int
}

func (l *bothLocator) LocateAttributes(nasID []byte, apMAC session.MAC, haveAP bool, ssid []byte, nasIP netip.Addr) (string, string) {
	l.attrCalls++
	ap := ""
	if haveAP {
		ap = apMAC.String()
	}
	return l.fakeLocator.Locate(string(nasID), ap, string(ssid), nasIP)
}

// TestLocateAttributes checks that a Locator with LocateAttributes gets what
// Locate would: the same NAS-Identifier, AP MAC, SSID and address.
func TestLocateAttributes(t *testing.T) {
	plain := &fakeLocator{byNAS: map[string]string{"ap-1": "bahnhof"}}
	attrs := &bothLocator{fakeLocator: fakeLocator{byNAS: plain.byNAS}}
	newServer := func(l Locator) *Server {
		s, err := New(testConfig(), Deps{Sessions: newFakeSessions(), Locator: l})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withPlain, withAttrs := newServer(plain), newServer(attrs)
	c := &client{location: "from-the-client-table"}
	src := netip.MustParseAddrPort("[::ffff:192.0.2.7]:1812")
	for i, tc := range []struct {
		nasID, called, nasIP []byte
	}{
		{[]byte("ap-1"), []byte("AA-BB-CC-DD-EE-FF:WiFi4EU"), nil},
		{[]byte("ap-2"), []byte("aabb.ccdd.eeff:Stadt: WLAN"), []byte{10, 0, 0, 1}},
		{nil, []byte("AA-BB-CC-DD-EE-FF:"), nil},
		{[]byte(""), []byte("AA-BB-CC-DD-EE-FF"), nil},
		{[]byte("ap-1"), []byte("WiFi4EU"), nil},
		{[]byte("ap-1"), []byte("AA-BB-CC-DD-EE-FFX"), nil},
		{nil, nil, nil},
	} {
		req := &request{nasIdentifier: tc.nasID, calledStationID: tc.called, nasIPAddress: tc.nasIP}
		calls := attrs.attrCalls
		want, got := withPlain.locate(c, src, req), withAttrs.locate(c, src, req)
		if attrs.attrCalls != calls+1 {
			t.Errorf("%d: LocateAttributes not called", i)
		}
		if got != want || attrs.lastCall() != plain.lastCall() {
			t.Errorf("%d: LocateAttributes gave %q for %+v, Locate %q for %+v", i, got, attrs.lastCall(), want, plain.lastCall())
		}
	}
}
