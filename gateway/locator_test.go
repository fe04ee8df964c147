package gateway

import (
	"fmt"
	"net/netip"
	"testing"
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
