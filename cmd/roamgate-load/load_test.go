package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/gateway"
	"roamgate/session"
)

func TestDeviceMAC(t *testing.T) {
	tests := []struct {
		i     int
		known bool
		want  string
	}{
		{0, true, "02-00-00-00-00-00"},
		{258, true, "02-00-00-00-01-02"},
		{1<<24 + 5, false, "06-00-01-00-00-05"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := deviceMAC(tt.i, tt.known); got != tt.want {
				t.Errorf("deviceMAC(%d, %v) = %q", tt.i, tt.known, got)
			}
			if _, err := session.ParseMAC(tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestUsersFile(t *testing.T) {
	var b bytes.Buffer
	if err := users([]string{"-sessions", "2"}, &b); err != nil {
		t.Fatal(err)
	}
	want := `"02-00-00-00-00-01" Cleartext-Password := "02-00-00-00-00-01"` + "\n\tSession-Timeout := 86400"
	if !strings.Contains(b.String(), want) || strings.Count(b.String(), "Cleartext-Password") != 2 {
		t.Errorf("users file:\n%s", b.String())
	}
}

// TestEncode: every send is a valid, distinct Access-Request — layeh
// decrypts the password to the MAC and the Message-Authenticator verifies —
// naming the device and access point it was built for.
func TestEncode(t *testing.T) {
	c := loadConfig{secret: "load-test-secret-123", sessions: 10, locations: 3, aps: 2}
	sh, err := newShape(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder([]byte(c.secret))
	reqs := []request{{0, true, 0}, {9, true, 5}, {1<<24 - 1, false, 3}, {258, true, 2}}
	var prev []byte
	for i, r := range reqs {
		var auth [16]byte
		b := bytes.Clone(enc.encode(nil, sh, r, byte(i), &auth))
		p, err := layeh.Parse(b, []byte(c.secret))
		if err != nil {
			t.Fatal(err)
		}
		mac := deviceMAC(r.dev, r.known)
		pw, err := rfc2865.UserPassword_LookupString(p)
		if err != nil || pw != mac || rfc2865.UserName_GetString(p) != mac || rfc2865.CallingStationID_GetString(p) != mac || p.Identifier != byte(i) {
			t.Errorf("request %d: password %q (%v), user %q, calling %q, id %d; want %s", i, pw, err,
				rfc2865.UserName_GetString(p), rfc2865.CallingStationID_GetString(p), p.Identifier, mac)
		}
		town := town{c.locations, c.aps}
		if got, want := rfc2865.NASIdentifier_GetString(p), town.nasID(r.ap); got != want {
			t.Errorf("request %d: NAS-Identifier %q, want %q", i, got, want)
		}
		if got, want := rfc2865.CalledStationID_GetString(p), apMAC(r.ap)+":WiFi4EU"; got != want {
			t.Errorf("request %d: Called-Station-Id %q, want %q", i, got, want)
		}
		ma := bytes.Clone(p.Get(80))
		q := bytes.Clone(b)
		copy(q[len(q)-16:], make([]byte, 16)) // the Message-Authenticator is last
		h := hmac.New(md5.New, []byte(c.secret))
		h.Write(q)
		if !hmac.Equal(h.Sum(nil), ma) {
			t.Error("Message-Authenticator does not verify")
		}
		if bytes.Equal(b, prev) {
			t.Error("two sends are identical")
		}
		prev = b
	}
}

// TestFleet: without roaming a known device always asks from where it
// signed in; with roaming the chosen share asks from another location than
// its previous request, and the unknown share is unknown.
func TestFleet(t *testing.T) {
	tw := town{locations: 4, aps: 3}
	rng := rand.New(rand.NewPCG(7, 7))
	t.Run("no roaming", func(t *testing.T) {
		f := newFleet(tw, 100, 0.2, 0)
		unknown := 0
		for range 10000 {
			dev, known, ap := f.pick(rng)
			if !known {
				unknown++
				continue
			}
			if ap != tw.home(dev) {
				t.Fatalf("device %d asked from %d, its home is %d", dev, ap, tw.home(dev))
			}
		}
		if unknown < 1800 || unknown > 2200 {
			t.Errorf("%d of 10000 unknown, want about 2000", unknown)
		}
	})
	t.Run("roaming", func(t *testing.T) {
		f := newFleet(tw, 100, 0, 0.3)
		last := make([]int, 100)
		for i := range last {
			last[i] = tw.home(i)
		}
		moved := 0
		for range 10000 {
			dev, _, ap := f.pick(rng)
			switch {
			case ap/tw.aps != last[dev]/tw.aps:
				moved++
			case ap != last[dev]:
				t.Fatalf("device %d moved from AP %d to %d in the same location", dev, last[dev], ap)
			}
			last[dev] = ap
		}
		if moved < 2800 || moved > 3200 {
			t.Errorf("%d of 10000 moved, want about 3000", moved)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		f := newFleet(tw, 5, 0.5, 0.5)
		for i := range 5 {
			dev, ap, ok := f.next()
			if !ok || dev != i || ap != tw.home(i) {
				t.Errorf("sweep %d: device %d at %d (%v)", i, dev, ap, ok)
			}
		}
		if _, _, ok := f.next(); ok || !f.swept() {
			t.Error("the sweep goes on after the last device")
		}
	})
}

func TestPutDeviceMAC(t *testing.T) {
	for _, i := range []int{0, 1, 258, 1<<24 + 5, 1<<32 - 1} {
		for _, known := range []bool{true, false} {
			b := make([]byte, macLen)
			putDeviceMAC(b, i, known)
			if string(b) != deviceMAC(i, known) {
				t.Errorf("putDeviceMAC(%d, %v) = %q, want %q", i, known, b, deviceMAC(i, known))
			}
		}
	}
}

// TestRunAgainstRoamgate drives serve's gateway briefly: the sweep accepts
// every device where it signed in without a roam; closed-loop and
// fixed-rate runs with roaming get answers and move sessions to other
// locations, which the gateway's locator found from the NAS-Identifier.
func TestRunAgainstRoamgate(t *testing.T) {
	const secret, sessions = "load-test-secret-123", 40
	tw := town{locations: 3, aps: 2}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *gateway.Gateway, 1)
	served := make(chan error, 1)
	var summary bytes.Buffer
	go func() {
		served <- runServe(ctx, serveConfig{sessions: sessions, auth: "127.0.0.1:0", acct: "127.0.0.1:0", secret: secret,
			dir: t.TempDir(), town: tw}, slog.New(slog.DiscardHandler), func(g *gateway.Gateway) { ready <- g }, &summary)
	}()
	var g *gateway.Gateway
	select {
	case g = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve not ready within 60s")
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	defer stop()

	base := loadConfig{addr: g.Addrs().RADIUSAuth, secret: secret, sessions: sessions, locations: tw.locations, aps: tw.aps,
		sockets: 2, window: 4, duration: 500 * time.Millisecond, warmup: 100 * time.Millisecond, timeout: time.Second, name: "test"}
	sweep := base
	sweep.sweep = true
	res, err := run(sweep)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepts != sessions || res.Rejects != 0 || res.Timeouts != 0 || res.Invalid != 0 {
		t.Errorf("sweep: %+v, want %d accepts", res, sessions)
	}
	for _, s := range g.Manager().Live() {
		if s.Roams != 0 || s.NAS.ID == "" {
			t.Errorf("after the sweep session at %s has %d roams, NAS %q", s.CurrentLocation, s.Roams, s.NAS.ID)
		}
	}

	for _, rate := range []float64{0, 500} {
		c := base
		c.unknown, c.roam, c.rate = 0.3, 0.5, rate
		res, err := run(c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepts == 0 || res.Rejects == 0 || res.Invalid != 0 || res.Timeouts != 0 || res.P50us <= 0 {
			t.Errorf("rate %v: %+v", rate, res)
		}
	}
	roamed := 0
	for _, s := range g.Manager().Live() {
		if s.Roams > 0 && s.CurrentLocation != s.Location {
			roamed++
		}
	}
	if roamed == 0 {
		t.Error("no session moved to another location")
	}
	stop()
	for _, want := range []string{"created 40 sessions", "roams", "0 folds failed", "datagrams per read"} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.String())
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := range 98 {
		h.add(time.Duration(i+1) * time.Microsecond)
	}
	h.add(150 * time.Millisecond)
	h.add(5 * time.Second)
	if got := h.quantile(0.5); got != 51 { // the 51st of 100
		t.Errorf("p50 = %v µs, want 51", got)
	}
	if got := h.quantile(0.985); got != 150000 {
		t.Errorf("p98.5 = %v µs, want 150000", got)
	}
	if got := h.quantile(0.999); got != 100000+1000*1899 {
		t.Errorf("p99.9 = %v µs, want the last bucket", got)
	}
	var m histogram
	m.merge(&h)
	if m.seen != 100 || m.max != 5*time.Second || m.quantile(0.5) != 51 {
		t.Errorf("merged: seen %d, max %v, p50 %v", m.seen, m.max, m.quantile(0.5))
	}
}
