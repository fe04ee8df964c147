package admin

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"roamgate/internal/testtool"
)

// TestAuditLog: sign-ins (good and bad) and revocations are logged with
// the admin's name and the time, and nothing personal is.
func TestAuditLog(t *testing.T) {
	sc := newScenario(t)
	var logs testtool.LogBuffer
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

// TestAuditDenied: refused admin actions are in the audit log too — a
// viewer trying an operator's action, a request without or with a wrong
// CSRF value, a login form without its CSRF value — with the admin's name
// where one is known (issue 11 item 9).
func TestAuditDenied(t *testing.T) {
	sc := newScenario(t)
	var logs testtool.LogBuffer
	deps := sc.deps()
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)

	viewer := newClient(t, s)
	viewer.login("viewer", viewerPassword)
	csrf := viewer.csrf()
	if resp, _ := viewer.do("POST", "/sessions/"+sc.roamer+"/revoke", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer revoke: %d", resp.StatusCode)
	}
	if resp, _ := viewer.do("POST", "/api/v1/crisis", nil, http.Header{csrfHeader: {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer crisis: %d", resp.StatusCode)
	}
	ops := newClient(t, s)
	ops.login("ops", opsPassword)
	if resp, _ := ops.do("POST", "/sessions/"+sc.roamer+"/revoke", url.Values{"csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged revoke: %d", resp.StatusCode)
	}
	if resp, _ := ops.do("POST", "/logout", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", resp.StatusCode)
	}
	anon := newClient(t, s)
	anon.do("GET", "/login", nil, nil)
	if resp, _ := anon.do("POST", "/login", url.Values{"name": {"ops"}, "password": {"x"}, "csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged login: %d", resp.StatusCode)
	}

	out := logs.String()
	for _, want := range []string{
		`"msg":"admin audit: refused","admin":"viewer","role":"viewer","reason":"forbidden","method":"POST","path":"/sessions/` + sc.roamer + `/revoke","at":"`,
		`"msg":"admin audit: refused","admin":"viewer","role":"viewer","reason":"forbidden","method":"POST","path":"/api/v1/crisis","at":"`,
		`"msg":"admin audit: refused","admin":"ops","role":"operator","reason":"csrf","method":"POST","path":"/sessions/` + sc.roamer + `/revoke","at":"`,
		`"msg":"admin audit: refused","admin":"ops","role":"operator","reason":"csrf","method":"POST","path":"/logout","at":"`,
		`"msg":"admin audit: refused","admin":"ops","reason":"csrf","method":"POST","path":"/login","at":"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if _, err := sc.mgr.ByID(sc.roamer); err != nil {
		t.Errorf("a refused revocation ended the session: %v", err)
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
	assertNoPersonalData(t, sc, &client{bodies: []string{out}})
}
