package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/gateway"
	"roamgate/session"
)

// BenchmarkRADIUSRequestPath is one MAC-authentication Access-Request
// through the production wiring — gateway.New: the locator of
// locations[].match (50 locations matched by NAS-Identifier pattern), the
// session manager on SQLite, the history recorder, the metrics — over
// loopback UDP, one request in flight. allocs/op and B/op are everything the
// process allocated per request, the work a request sets off in the
// background included (a move's store write and history event); ns/op is a
// round trip with its four system calls and wake-ups, not throughput (see
// make bench-radius for that).
//
//	go test -run '^$' -bench RADIUSRequestPath -benchmem ./gateway/
func BenchmarkRADIUSRequestPath(b *testing.B) {
	const (
		secret    = "bench-secret-0123456789"
		locations = 50
		devices   = 1000
		pool      = 4 * devices // distinct packets per socket
	)
	cfg := gateway.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.Portal.Listen, cfg.Admin.Listen, cfg.DNS.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.RADIUS.AuthListen, cfg.RADIUS.AcctListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RADIUS.Clients[0].Secret = secret
	cfg.Networks = []gateway.Network{{ID: "bench", SSID: "WiFi4EU"}}
	cfg.Locations = nil
	for l := range locations {
		id := fmt.Sprintf("loc%03d", l)
		cfg.Locations = append(cfg.Locations, gateway.Location{ID: id, Name: id, Network: "bench",
			Match: gateway.Match{NASID: []string{id + "-*"}}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			b.Error(err)
		}
	})
	// Device d signed in at location d % locations (its home), AP 0 there.
	deviceMAC := func(d int) string { return fmt.Sprintf("02-00-00-00-%02X-%02X", byte(d>>8), byte(d)) }
	for d := range devices {
		mac, err := session.ParseMAC(deviceMAC(d))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := g.Manager().Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "bench",
			Location: fmt.Sprintf("loc%03d", d%locations)}); err != nil {
			b.Fatal(err)
		}
	}
	addr, err := net.ResolveUDPAddr("udp", g.Addrs().RADIUSAuth)
	if err != nil {
		b.Fatal(err)
	}
	// request is a signed Access-Request for device d (an unknown one if d
	// < 0) from AP 0 of location l.
	request := func(d, l int) []byte {
		mac := "06-00-00-00-00-01"
		if d >= 0 {
			mac = deviceMAC(d)
		}
		p := layeh.New(layeh.CodeAccessRequest, []byte(secret))
		rand.Read(p.Authenticator[:])
		p.Identifier = byte(d)
		rfc2865.UserName_SetString(p, mac)
		rfc2865.UserPassword_SetString(p, mac)
		rfc2865.CallingStationID_SetString(p, mac)
		rfc2865.CalledStationID_SetString(p, fmt.Sprintf("02-AA-00-00-%02X-00:WiFi4EU", l))
		rfc2865.NASIdentifier_SetString(p, fmt.Sprintf("loc%03d-ap00", l))
		rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
		rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_CallCheck)
		p.Add(80, make(layeh.Attribute, 16))
		buf, err := p.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		h := hmac.New(md5.New, []byte(secret))
		h.Write(buf)
		copy(buf[len(buf)-16:], h.Sum(nil)) // the Message-Authenticator is last
		return buf
	}
	// exchange sends every packet of pkts once from a new socket (so that
	// none is a retransmission to the server) and reads each answer, until
	// the loop ends.
	exchange := func(b *testing.B, pkts [][]byte, want layeh.Code) {
		reply := make([]byte, 4096)
		for {
			c, err := net.DialUDP("udp", nil, addr)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range pkts {
				if !b.Loop() {
					c.Close()
					return
				}
				if _, err := c.Write(p); err != nil {
					b.Fatal(err)
				}
				n, err := c.Read(reply)
				if err != nil || n < 20 || layeh.Code(reply[0]) != want {
					b.Fatalf("reply %x: %v, want %v", reply[:n], err, want)
				}
			}
			c.Close()
		}
	}
	for _, bc := range []struct {
		name string
		at   func(d, k int) int // location of device d's k-th request
		want layeh.Code
	}{
		// In this order, so that the background work of moves (written
		// after the loop that caused them) falls into no other case.
		{"reject/unknown", nil, layeh.CodeAccessReject},
		// From where the device is: nothing recorded.
		{"accept/same-ap", func(d, _ int) int { return d % locations }, layeh.CodeAccessAccept},
		// Every request from another location than the device's last.
		{"accept/moving", func(d, k int) int { return (d + k%2) % locations }, layeh.CodeAccessAccept},
	} {
		pkts := make([][]byte, pool)
		for i := range pkts {
			d, k := i%devices, i/devices
			if bc.at == nil {
				pkts[i] = request(-1, i%locations)
			} else {
				pkts[i] = request(d, bc.at(d, k))
			}
		}
		// Every device's first request from an access point records the
		// NAS; make it before measuring.
		for d := range devices {
			c, err := net.DialUDP("udp", nil, addr)
			if err != nil {
				b.Fatal(err)
			}
			c.Write(pkts[d])
			c.Read(make([]byte, 4096))
			c.Close()
		}
		// The priming's store writes are done before measuring.
		for deadline := time.Now().Add(time.Minute); g.Manager().Counters().ActivityPending > 0; {
			if time.Now().After(deadline) {
				b.Fatal("activity writes still pending after 1 minute")
			}
			time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			exchange(b, pkts, bc.want)
		})
	}
}
