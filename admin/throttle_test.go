package admin

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"roamgate/internal/testtool"
)

// clientFrom is a client whose connections come from the loopback address
// src (127.0.0.2, …): another machine, as far as the server can tell.
func clientFrom(t *testing.T, s *Server, src string) *client {
	t.Helper()
	c := newClient(t, s)
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c.hc = &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) }},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

func token(c *client, name, password string) (int, time.Duration) {
	c.t.Helper()
	resp, _ := c.do("POST", "/api/v1/token", url.Values{"name": {name}, "password": {password}}, nil)
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(secs) * time.Second
}

// TestThrottleAttackDoesNotLockOut is issue 11 item 5: an attacker
// guessing the operator's password from one address is slowed down with a
// growing delay, while the operator signs in from another address at once
// — during the attack and right after it.
func TestThrottleAttackDoesNotLockOut(t *testing.T) {
	clk := testtool.NewClock(time.Now())
	deps := newScenario(t).deps()
	deps.Now = clk.Now
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	attacker := clientFrom(t, s, "127.0.0.2")
	team := clientFrom(t, s, "127.0.0.3")

	for i := range maxFailures {
		if status, _ := token(attacker, "ops", "guess"); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, status)
		}
	}
	// The attacker now waits, longer after each further failure.
	var waits []time.Duration
	for range 4 {
		status, wait := token(attacker, "ops", "guess")
		if status != http.StatusTooManyRequests || wait <= 0 {
			t.Fatalf("attacker after %d failures: %d, Retry-After %v; want 429 with a wait", maxFailures+len(waits), status, wait)
		}
		// The right password does not help the attacker's address
		// either while it waits.
		if status, _ := token(attacker, "ops", opsPassword); status != http.StatusTooManyRequests {
			t.Fatalf("right password from the attacking address while it waits: %d, want 429", status)
		}
		waits = append(waits, wait)
		clk.Add(wait)
		if status, _ := token(attacker, "ops", "guess"); status != http.StatusUnauthorized {
			t.Fatalf("attacker after waiting %v: %d, want another try (401)", wait, status)
		}
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Errorf("waits %v do not grow", waits)
		}
	}
	// The team, elsewhere, is not slowed: the right password works now,
	// and a typo of theirs costs them nothing extra.
	if status, _ := token(team, "ops", "typo"); status != http.StatusUnauthorized {
		t.Fatalf("team's typo: %d, want 401", status)
	}
	if status, wait := token(team, "ops", opsPassword); status != http.StatusOK {
		t.Fatalf("the operator from another address during the attack: %d (Retry-After %v), want 200", status, wait)
	}
	// The attacker's next try is still slowed.
	if status, _ := token(attacker, "ops", "guess"); status != http.StatusTooManyRequests {
		t.Fatalf("attacker right after a try: %d, want 429", status)
	}
	// A long quiet time forgets the failures.
	clk.Add(forgetFailures + time.Minute)
	if status, _ := token(attacker, "ops", "guess"); status != http.StatusUnauthorized {
		t.Fatalf("after %v quiet: %d, want a try (401)", forgetFailures, status)
	}
}

// TestThrottleBackoff: the delay after n failures grows from baseDelay
// and stops growing at maxDelay; a success clears the (name, address)
// pair; the table stays bounded.
func TestThrottleBackoff(t *testing.T) {
	clk := testtool.NewClock(time.Now())
	th := newThrottle(clk.Now)
	for range maxFailures {
		if w := th.Wait("k"); w != 0 {
			t.Fatalf("wait before %d failures = %v", maxFailures, w)
		}
		th.Add("k")
	}
	want := baseDelay
	for range 20 {
		if w := th.Wait("k"); w != want {
			t.Fatalf("wait = %v, want %v", w, want)
		}
		clk.Add(want)
		th.Add("k")
		want = min(2*want, maxDelay)
	}
	if want != maxDelay {
		t.Fatalf("delay never reached %v", maxDelay)
	}
	th.Reset("k")
	if w := th.Wait("k"); w != 0 {
		t.Fatalf("wait after reset = %v", w)
	}
	for i := range throttleCap + 10 {
		th.Add(strconv.Itoa(i))
	}
	if n := th.Len(); n > throttleCap {
		t.Fatalf("throttle holds %d keys, cap %d", n, throttleCap)
	}
}

func TestAddrKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, // one /64, one host
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if ka, kb := addrKey(netip.MustParseAddr(tt.a)), addrKey(netip.MustParseAddr(tt.b)); ka != kb {
			t.Errorf("addrKey(%s) = %s, addrKey(%s) = %s: want one key", tt.a, ka, tt.b, kb)
		}
	}
	for _, tt := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.7", "192.0.2.8"},
	} {
		if addrKey(netip.MustParseAddr(tt.a)) == addrKey(netip.MustParseAddr(tt.b)) {
			t.Errorf("%s and %s share a key", tt.a, tt.b)
		}
	}
}
