package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestAuditLog: sign-ins (good and bad) and revocations are logged with
// the admin's name and the time, and nothing personal is.
func TestAuditLog(t *testing.T) {
	sc := newScenario(t)
	var logs syncBuffer
	deps := sc.deps()
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)

	c := newClient(t, s)
	c.login("ops", "wrong")
	c.login("ops", opsPassword)
	csrf := c.csrf()
	if resp, _ := c.do("POST", "/sessions/"+sc.roamer+"/revoke", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	c.do("POST", "/logout", url.Values{"csrf": {csrf}}, nil)

	out := logs.String()
	for _, want := range []string{
		`"msg":"admin audit: sign-in failed","admin":"ops","at":"`,
		`"msg":"admin audit: signed in","admin":"ops","role":"operator","at":"`,
		`"msg":"admin audit: session revoked","admin":"ops","session":"` + sc.roamer + `","disconnect":"ack"`,
		`"msg":"admin audit: signed out","admin":"ops","at":"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s\n%s", want, out)
		}
	}
	assertNoPersonalData(t, sc, &client{bodies: []string{out}})
}

// TestRateLimitPerAddress: one address trying many names is stopped too.
func TestRateLimitPerAddress(t *testing.T) {
	sc := newScenario(t)
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	c := newClient(t, s)
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		if resp := c.login(name, "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := c.do("POST", "/api/v1/token", url.Values{"name": {"ops"}, "password": {opsPassword}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many") && !strings.Contains(body, "Zu viele") {
		t.Fatalf("after 5 names from one address: %d %s", resp.StatusCode, body)
	}
}
