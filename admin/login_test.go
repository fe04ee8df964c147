package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"roamgate/assets"
	"roamgate/internal/testtool"
)

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLogin(t *testing.T) {
	sc := newScenario(t)
	users := testUsers(t)

	t.Run("form login sets a strict HttpOnly cookie and shows the dashboard", func(t *testing.T) {
		s := startAdmin(t, Config{Users: users}, sc.deps())
		c := newClient(t, s)
		resp := c.login("ops", opsPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		ck := cookieOf(resp, sessionCookie)
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Value == "" {
			t.Fatalf("session cookie = %+v", ck)
		}
		_, page := c.do("GET", "/", nil, http.Header{"Accept-Language": {"en-GB,en;q=0.9"}})
		if !strings.Contains(page, `<span id="total">8</span>`) || !strings.Contains(page, "Online now") {
			t.Fatalf("dashboard:\n%s", page)
		}
		_, page = c.do("GET", "/?lang=de", nil, nil)
		if !strings.Contains(page, "Jetzt online") || !strings.Contains(page, "<svg") {
			t.Fatal("German dashboard without its title or charts")
		}
		assertNoPersonalData(t, sc, c)
	})

	t.Run("login without or with a wrong CSRF value is 403", func(t *testing.T) {
		s := startAdmin(t, Config{Users: users}, sc.deps())
		c := newClient(t, s)
		for _, form := range []url.Values{
			{"name": {"ops"}, "password": {opsPassword}},
			{"name": {"ops"}, "password": {opsPassword}, "csrf": {"forged"}},
		} {
			c.do("GET", "/login", nil, nil) // has the nonce cookie, not the value
			if resp, _ := c.do("POST", "/login", form, nil); resp.StatusCode != http.StatusForbidden || cookieOf(resp, sessionCookie) != nil {
				t.Fatalf("login %v: %d", form, resp.StatusCode)
			}
		}
	})

	t.Run("wrong passwords are slowed down per user and address", func(t *testing.T) {
		s := startAdmin(t, Config{Users: users}, sc.deps())
		c := newClient(t, s)
		for i := range maxFailures {
			if resp := c.login("viewer", "wrong"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
			}
		}
		resp := c.login("viewer", viewerPassword)
		_, page := c.do("POST", "/api/v1/token", url.Values{"name": {"viewer"}, "password": {viewerPassword}}, nil)
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "Zu viele") {
			t.Fatalf("after %d failures the right password gives %d %s", maxFailures, resp.StatusCode, page)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if w := s.pairs.Wait("viewer\x00127.0.0.1"); w <= 0 {
			t.Error("user at this address not slowed down")
		}
		if w := s.addrs.Wait("127.0.0.1"); w <= 0 {
			t.Error("address not slowed down")
		}
	})

	t.Run("cookie POST needs the CSRF value; logout ends the login", func(t *testing.T) {
		s := startAdmin(t, Config{Users: users}, sc.deps())
		c := newClient(t, s)
		resp := c.login("ops", opsPassword)
		token := cookieOf(resp, sessionCookie).Value
		if resp, body := c.do("POST", "/api/v1/sessions/"+sc.ids[0]+"/revoke", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("revoke without CSRF: %d %s", resp.StatusCode, body)
		}
		if resp, _ := c.do("POST", "/sessions/"+sc.ids[0]+"/revoke", url.Values{"csrf": {"x"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("form revoke with a wrong CSRF value: %d", resp.StatusCode)
		}
		if _, err := sc.mgr.ByID(sc.ids[0]); err != nil {
			t.Fatalf("session ended by a forged request: %v", err)
		}
		csrf := c.csrf()
		if resp, _ := c.do("POST", "/logout", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("logout without CSRF: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", "/logout", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		old := newClient(t, s)
		old.bearer = token
		if resp, _ := old.do("GET", "/api/v1/stats", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token of a logged-out login still works: %d", resp.StatusCode)
		}
	})

	t.Run("sliding renewal up to the login's end", func(t *testing.T) {
		clk := testtool.NewClock(time.Now())
		deps := sc.deps()
		deps.Registerer, deps.Now = nil, clk.Now
		s := startAdmin(t, Config{Users: users}, deps)
		c := newClient(t, s)
		c.login("viewer", viewerPassword)
		clk.Add(2 * time.Minute)
		if resp, _ := c.do("GET", "/", nil, nil); resp.StatusCode != 200 || cookieOf(resp, sessionCookie) != nil {
			t.Fatalf("fresh token renewed or refused: %d", resp.StatusCode)
		}
		// Working every 10 minutes keeps the login alive past the token
		// lifetime …
		for range 6 {
			clk.Add(10 * time.Minute)
			if resp, _ := c.do("GET", "/", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("renewed login refused at %s: %d", clk.Now(), resp.StatusCode)
			}
		}
		// … but a pause longer than the token lifetime ends it.
		clk.Add(tokenLifetime + time.Minute)
		if resp, _ := c.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("expired login: %d, want 303 to /login", resp.StatusCode)
		}
	})
}

func TestRevokeForm(t *testing.T) {
	sc := newScenario(t)
	sc.revoker.outcome = DisconnectTimeout
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	c := newClient(t, s)
	c.login("ops", opsPassword)
	csrf := c.csrf()
	resp, _ := c.do("POST", "/sessions/"+sc.ids[1]+"/revoke", url.Values{"csrf": {csrf}, "location": {"bahnhof"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke form: %d", resp.StatusCode)
	}
	_, page := c.do("GET", resp.Header.Get("Location"), nil, http.Header{"Accept-Language": {"en"}})
	if !strings.Contains(page, "revoked. Disconnect at the access point: no answer (timeout)") || !strings.Contains(page, `<span id="count">3</span>`) {
		t.Fatalf("sessions page after revoke:\n%s", page)
	}
	if strings.Contains(page, sc.ids[1]+"</code>") {
		t.Fatal("revoked session still listed")
	}
}

func TestHealthAndReady(t *testing.T) {
	sc := newScenario(t)
	var ready error
	deps := sc.deps()
	deps.Registerer = nil
	deps.Ready = func(context.Context) error { return ready }
	s := startAdmin(t, Config{}, deps)
	c := newClient(t, s)
	if resp, body := c.do("GET", "/healthz", nil, nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do("GET", "/readyz", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	ready = errors.New("store down")
	if resp, body := c.do("GET", "/readyz", nil, nil); resp.StatusCode != 503 || !strings.Contains(body, "store down") {
		t.Fatalf("readyz while not ready: %d %q", resp.StatusCode, body)
	}
}

func TestConfigValidate(t *testing.T) {
	hash := "$2b$10$abcdefghijklmnopqrstuv"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", DefaultConfig(), ""},
		{"bad listen", Config{Listen: "9080"}, `admin.listen: "9080" is not host:port`},
		{"all interfaces without TLS", Config{Listen: ":9080"}, "admin.listen"},
		{"public address without TLS", Config{Listen: "192.0.2.10:9080"}, "admin.insecure_listen"},
		{"public address, insecure_listen", Config{Listen: "192.0.2.10:9080", InsecureListen: true}, ""},
		{"public address with TLS", Config{Listen: "[2001:db8::1]:9080", TLSCert: "c.pem", TLSKey: "k.pem"}, ""},
		{"cert without key", Config{Listen: "127.0.0.1:9080", TLSCert: "c.pem"}, "admin.tls_key"},
		{"IPv6 loopback", Config{Listen: "[::1]:9080"}, ""},
		{"localhost", Config{Listen: "localhost:9080"}, ""},
		{"missing name", Config{Listen: "127.0.0.1:1", Users: []User{{PasswordHash: hash}}}, "admin.users[0].name: missing"},
		{"plain password", Config{Listen: "127.0.0.1:1", Users: []User{{Name: "a", PasswordHash: "hunter2"}}}, "admin.users[0].password_hash"},
		{"duplicate", Config{Listen: "127.0.0.1:1", Users: []User{{Name: "a", PasswordHash: hash}, {Name: "a", PasswordHash: hash}}}, "admin.users[1].name"},
		{"bad role", Config{Listen: "127.0.0.1:1", Users: []User{{Name: "a", PasswordHash: hash, Role: "root"}}}, "admin.users[0].role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	// New refuses before it binds anything.
	if _, err := New(Config{Listen: "0.0.0.0:0"}, Deps{Sessions: newScenario(t).mgr, TokenKey: testKey}); err == nil || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("New on 0.0.0.0 without TLS = %v", err)
	}
	if _, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Sessions: newScenario(t).mgr, TokenKey: []byte("short")}); err == nil {
		t.Fatal("a short token key was accepted")
	}
}

// TestTextKeys: every text the templates and handlers ask for is in the
// admin's reference catalog (assets checks that the other languages have
// the same keys).
func TestTextKeys(t *testing.T) {
	ref, err := assets.AdminMessages(assets.Reference)
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]bool{}
	for pattern, re := range map[string]*regexp.Regexp{
		"web/*.html": regexp.MustCompile(`\.T "([a-z0-9_]+)"`),
		"*.go":       regexp.MustCompile(`(?:\btr\(c, |\.L\.T\()"([a-z0-9_]+)"`),
	} {
		names, _ := filepath.Glob(pattern)
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllSubmatch(data, -1) {
				uses[string(m[1])] = true
				if !ref.Has(string(m[1])) {
					t.Errorf("%s uses text %q, which assets/i18n/admin/%s.json lacks", name, m[1], assets.Reference)
				}
			}
		}
	}
	if len(uses) < 40 {
		t.Fatalf("found only %d text keys in use; are the patterns stale?", len(uses))
	}
}
