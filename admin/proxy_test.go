package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTrustedProxies is issue 11 item 12: behind a reverse proxy listed in
// admin.trusted_proxies the login limits see the client the proxy names in
// X-Forwarded-For, so an attacker behind the same proxy slows down only
// themselves; from anyone else the header is not believed.
func TestTrustedProxies(t *testing.T) {
	s := startAdmin(t, Config{Users: testUsers(t), TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}}, newScenario(t).deps())
	proxy := newClient(t, s) // connects from 127.0.0.1
	via := func(c *client, xff, password string) int {
		resp, _ := c.do("POST", "/api/v1/token", url.Values{"name": {"ops"}, "password": {password}},
			http.Header{"X-Forwarded-For": {xff}})
		return resp.StatusCode
	}
	for i := range maxFailures {
		if status := via(proxy, "198.51.100.7", "guess"); status != http.StatusUnauthorized {
			t.Fatalf("guess %d through the proxy: %d", i+1, status)
		}
	}
	if status := via(proxy, "198.51.100.7", "guess"); status != http.StatusTooManyRequests {
		t.Fatalf("attacker behind the proxy after %d failures: %d, want 429", maxFailures, status)
	}
	// The client is the last address the trusted proxies did not add:
	// a forged first hop does not hide the attacker.
	if status := via(proxy, "203.0.113.5, 198.51.100.7", "guess"); status != http.StatusTooManyRequests {
		t.Fatalf("attacker with a forged first hop: %d, want 429", status)
	}
	if status := via(proxy, "198.51.100.7, 10.1.2.3", "guess"); status != http.StatusTooManyRequests {
		t.Fatalf("attacker behind two trusted proxies: %d, want 429", status)
	}
	if status := via(proxy, "203.0.113.5", opsPassword); status != http.StatusOK {
		t.Fatalf("the team behind the same proxy: %d, want 200", status)
	}

	// Not from a trusted proxy: X-Forwarded-For is ignored, so changing
	// it does not escape the limit.
	direct := clientFrom(t, s, "127.0.0.2")
	for i := range maxFailures + 1 {
		status := via(direct, "192.0.2."+strings.Repeat("1", 1+i%3), "guess")
		if want := http.StatusUnauthorized; i == maxFailures {
			if status != http.StatusTooManyRequests {
				t.Fatalf("untrusted client rotating X-Forwarded-For: %d after %d failures, want 429", status, i)
			}
		} else if status != want {
			t.Fatalf("untrusted guess %d: %d", i+1, status)
		}
	}

	if err := (Config{Listen: "127.0.0.1:0", TrustedProxies: []string{"10.0.0.0/33"}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `admin.trusted_proxies[0]: "10.0.0.0/33" is not a network or address`) {
		t.Errorf("bad trusted proxy: %v", err)
	}
}
