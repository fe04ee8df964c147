package gateway

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path"
	"strings"
	"testing"

	"roamgate/session"
)

// benchLocatorConfig is the locations of BenchmarkRADIUSRequestPath: 50
// locations matched by NAS-Identifier pattern "locNNN-*".
func benchLocatorConfig() Config {
	c := Config{Networks: []Network{{ID: "bench", SSID: "WiFi4EU"}}}
	for l := range 50 {
		id := fmt.Sprintf("loc%03d", l)
		c.Locations = append(c.Locations, Location{ID: id, Name: id, Network: "bench",
			Match: Match{NASID: []string{id + "-*"}}})
	}
	return c
}

// benchAP is access point a of the 400 (8 at each location) as the RADIUS
// server passes it on: NAS-Identifier "locLLL-apAA", and the AP MAC of
// Called-Station-Id "02-AA-00-00-LL-AA:WiFi4EU" normalised, and the SSID.
type benchAP struct {
	nasID, apMAC, ssid string
	nasIP              netip.Addr
}

func benchAPs() []benchAP {
	aps := make([]benchAP, 400)
	for i := range aps {
		l, a := i%50, i/50
		aps[i] = benchAP{
			nasID: fmt.Sprintf("loc%03d-ap%02d", l, a),
			apMAC: fmt.Sprintf("02:aa:00:00:%02x:%02x", l, a),
			ssid:  "WiFi4EU",
			nasIP: netip.AddrFrom4([4]byte{10, 0, byte(l), byte(a)}),
		}
	}
	return aps
}

// BenchmarkLocate is the locator's part of an Access-Request in
// BenchmarkRADIUSRequestPath, over its 400 access points.
//
//	go test -run '^$' -bench Locate -benchmem ./gateway/
func BenchmarkLocate(b *testing.B) {
	l := newLocator(benchLocatorConfig())
	aps := benchAPs()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ap := &aps[i%len(aps)]
		if loc, _ := l.Locate(ap.nasID, ap.apMAC, ap.ssid, ap.nasIP); loc == "" {
			b.Fatalf("%s: no location", ap.nasID)
		}
		i++
	}
}

// BenchmarkLocateAttributes is BenchmarkLocate through the RADIUS server's
// entry, the values as it reads them from a request.
func BenchmarkLocateAttributes(b *testing.B) {
	l := newLocator(benchLocatorConfig())
	type attrs struct {
		nasID, ssid []byte
		mac         session.MAC
		nasIP       netip.Addr
	}
	var aps []attrs
	for _, ap := range benchAPs() {
		mac, err := session.ParseMAC(ap.apMAC)
		if err != nil {
			b.Fatal(err)
		}
		aps = append(aps, attrs{[]byte(ap.nasID), []byte(ap.ssid), mac, ap.nasIP})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ap := &aps[i%len(aps)]
		if loc, _ := l.LocateAttributes(ap.nasID, ap.mac, true, ap.ssid, ap.nasIP); loc == "" {
			b.Fatalf("%s: no location", ap.nasID)
		}
		i++
	}
}

// scanLocate is the locator as it was before it indexed the patterns: every
// location's patterns tried in config order. The locator must answer as it
// does.
func scanLocate(c Config, nasID, apMAC, ssid string, nasIP netip.Addr) (location, network string) {
	var mac session.MAC
	haveMAC := false
	if m, err := session.ParseMAC(apMAC); apMAC != "" && err == nil {
		mac, haveMAC = m, true
	}
	nasIP = nasIP.Unmap()
	matches := func(m Match) bool {
		for _, p := range m.NASID {
			if ok, _ := path.Match(p, nasID); nasID != "" && ok {
				return true
			}
		}
		for _, s := range m.APMAC {
			if a, err := session.ParseMAC(s); err == nil && haveMAC && a == mac {
				return true
			}
		}
		for _, s := range m.NASIP {
			if p, err := netip.ParsePrefix(s); err == nil && nasIP.IsValid() && p.Masked().Contains(nasIP) {
				return true
			}
		}
		return false
	}
	for _, l := range c.Locations {
		if matches(l.Match) {
			location, network = l.ID, l.Network
			break
		}
	}
	for _, n := range c.Networks {
		if n.SSID == ssid {
			network = n.ID
			break
		}
	}
	if network == "" && len(c.Networks) > 0 {
		network = c.Networks[0].ID
	}
	return location, network
}

func TestLocatorMatchesScan(t *testing.T) {
	loc := func(id, network string, m Match) Location { return Location{ID: id, Network: network, Match: m} }
	c := Config{
		Networks: []Network{{ID: "wifi4eu", SSID: "WiFi4EU"}, {ID: "stadt", SSID: "Stadt"}},
		Locations: []Location{
			loc("exact", "wifi4eu", Match{NASID: []string{"bahnhof-ap1"}}),
			loc("prefix", "wifi4eu", Match{NASID: []string{"bahnhof-*"}}),
			loc("glob-first", "", Match{NASID: []string{"z?-*"}}),
			loc("class", "wifi4eu", Match{NASID: []string{"markt-[a-c]*", "markt-[^a-c]x"}}),
			loc("mac", "stadt", Match{APMAC: []string{"AA-BB-CC-DD-EE-FF"}, NASID: []string{"mac-ap"}}),
			loc("ip", "wifi4eu", Match{NASIP: []string{"10.1.0.0/16", "2001:db8::/32", "fe80::/10"}}),
			loc("ip-narrow", "stadt", Match{NASIP: []string{"10.1.2.0/24", "10.2.3.4/32", "192.168.7.9/20"}}),
			loc("escaped", "wifi4eu", Match{NASID: []string{`esc\*`, `lit\-*`, "bad[", "a]b"}}),
			loc("z-prefix", "wifi4eu", Match{NASID: []string{"za-*", "zzz-*"}}),
			loc("b-glob", "wifi4eu", Match{NASID: []string{"b*"}, APMAC: []string{"aabb.ccdd.eeff", "not a mac"}}),
			loc("slash", "wifi4eu", Match{NASID: []string{"*/*"}, NASIP: []string{"not a network"}}),
			loc("late-ip", "stadt", Match{NASID: []string{"park-ap?"}, NASIP: []string{"10.0.0.0/8"}}),
			loc("anything", "", Match{NASID: []string{"*"}}),
		},
	}
	l := newLocator(c)
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name, nasID, apMAC, ssid string
		nasIP                    netip.Addr
		want                     string
	}{
		{name: "literal before prefix", nasID: "bahnhof-ap1", want: "exact"},
		{name: "prefix", nasID: "bahnhof-ap2", want: "prefix"},
		{name: "prefix, empty rest", nasID: "bahnhof-", want: "prefix"},
		{name: "prefix star matches no slash", nasID: "bahnhof-a/b", want: "slash"},
		{name: "glob before prefix", nasID: "za-1", want: "glob-first"},
		{name: "glob only", nasID: "zb-1", want: "glob-first"},
		{name: "prefix after failed glob", nasID: "zzz-1", want: "z-prefix"},
		{name: "glob after prefix", nasID: "bx", want: "b-glob"},
		{name: "class", nasID: "markt-b7", want: "class"},
		{name: "negated class", nasID: "markt-dx", want: "class"},
		{name: "class mismatch", nasID: "markt-d7", want: "anything"},
		{name: "question mark", nasID: "park-ap7", want: "late-ip"},
		{name: "question mark is one character", nasID: "park-ap77", want: "anything"},
		{name: "escaped star", nasID: "esc*", want: "escaped"},
		{name: "escaped star is literal", nasID: "escX", want: "anything"},
		{name: "escape before prefix star", nasID: "lit-x", want: "escaped"},
		{name: "bracket literal", nasID: "a]b", want: "escaped"},
		{name: "bad pattern matches nothing", nasID: "bad[", want: "b-glob"},
		{name: "MAC before later NAS-ID", nasID: "bx", apMAC: "aa:bb:cc:dd:ee:ff", want: "mac"},
		{name: "earlier NAS-ID before MAC", nasID: "bahnhof-x", apMAC: "aa:bb:cc:dd:ee:ff", want: "prefix"},
		{name: "MAC, Cisco notation in the config", apMAC: "AA-BB-CC-DD-EE-FF", want: "mac"},
		{name: "MAC of a later location", apMAC: "aa:bb:cc:dd:ee:ff", ssid: "WiFi4EU", want: "mac"},
		{name: "second MAC", apMAC: "aabbccddeeff", want: "mac"},
		{name: "unknown AP", apMAC: "02:00:00:00:00:01", nasID: "x/y/", want: ""},
		{name: "invalid AP MAC", apMAC: "02:00:00", want: ""},
		{name: "IPv4 prefix before narrower", nasIP: ip("10.1.2.3"), want: "ip"},
		{name: "IPv4-mapped", nasIP: ip("::ffff:10.1.2.3"), want: "ip"},
		{name: "host prefix", nasIP: ip("10.2.3.4"), want: "ip-narrow"},
		{name: "unmasked prefix in the config", nasIP: ip("192.168.1.1"), want: "ip-narrow"},
		{name: "wide IPv4 prefix", nasIP: ip("10.200.0.1"), want: "late-ip"},
		{name: "IPv6", nasIP: ip("2001:db8::1"), want: "ip"},
		{name: "IPv6 with a zone matches no network", nasIP: ip("fe80::1%eth0"), want: ""},
		{name: "IPv6 link-local", nasIP: ip("fe80::1"), want: "ip"},
		{name: "IPv6 outside", nasIP: ip("2001:db9::1"), want: ""},
		{name: "NAS-ID before IP", nasID: "bahnhof-x", nasIP: ip("10.1.2.3"), want: "prefix"},
		{name: "IP before NAS-ID", nasID: "park-ap1", nasIP: ip("10.1.2.3"), want: "ip"},
		{name: "SSID overrides the location's network", nasID: "bahnhof-x", ssid: "Stadt", want: "prefix"},
		{name: "unknown SSID, no network at the location", nasID: "za-1", ssid: "Other", want: "glob-first"},
		{name: "empty", want: ""},
		{name: "empty, SSID", ssid: "Stadt", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantLoc, wantNW := scanLocate(c, tc.nasID, tc.apMAC, tc.ssid, tc.nasIP)
			if wantLoc != tc.want {
				t.Fatalf("the scan says %q, the case %q: fix the case", wantLoc, tc.want)
			}
			if loc, nw := l.Locate(tc.nasID, tc.apMAC, tc.ssid, tc.nasIP); loc != wantLoc || nw != wantNW {
				t.Errorf("Locate = %q, %q; the scan says %q, %q", loc, nw, wantLoc, wantNW)
			}
			mac, err := session.ParseMAC(tc.apMAC)
			if loc, nw := l.LocateAttributes([]byte(tc.nasID), mac, err == nil, []byte(tc.ssid), tc.nasIP); loc != wantLoc || nw != wantNW {
				t.Errorf("LocateAttributes = %q, %q; the scan says %q, %q", loc, nw, wantLoc, wantNW)
			}
		})
	}
}

// TestLocatorMatchesScanRandom compares the locator with the scan on random
// patterns and NAS-Identifiers made of path.Match's special characters and a
// few others, so that the cases nobody thought of are tried too.
func TestLocatorMatchesScanRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "-", "/", "*", "?", "[ab]", "[^a]", `\*`, `\`, "[", "]", "a*", "b*"}
	word := func(pieces []string, max int) string {
		var s strings.Builder
		for range rnd.IntN(max + 1) {
			s.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return s.String()
	}
	for round := range 200 {
		var c Config
		for i := range 1 + rnd.IntN(12) {
			m := Match{}
			for range rnd.IntN(3) {
				m.NASID = append(m.NASID, word(pieces, 4))
			}
			c.Locations = append(c.Locations, Location{ID: fmt.Sprint(i), Match: m})
		}
		l := newLocator(c)
		for range 200 {
			nasID := word(pieces[:4], 6)
			want, _ := scanLocate(c, nasID, "", "", netip.Addr{})
			if got, _ := l.Locate(nasID, "", "", netip.Addr{}); got != want {
				t.Fatalf("round %d: %q in %+v: Locate = %q, the scan says %q", round, nasID, c.Locations, got, want)
			}
		}
	}
}
