package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"roamgate/portal/vendor"
	"roamgate/probe"
	"roamgate/session"
)

// signedIn signs a device in through the real form and returns its session
// cookie.
func (env *testEnv) signedIn(t *testing.T, query string) *http.Cookie {
	t.Helper()
	f := env.splash(t, query)
	resp, _ := env.post(t, accepted(f), f.cookie)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /connect: %d", resp.StatusCode)
	}
	c := cookieNamed(resp, sessionCookie)
	if c == nil {
		t.Fatal("no session cookie")
	}
	return c
}

// appleSuccess is the page iOS and macOS look for ("Success" in it).
const appleSuccess = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"

// TestProbes: every OS's check, captive (302 to the splash, its arrival
// kept) and online (what that OS's own check code accepts). The expected
// answers are written here, not taken from roamgate/probe, so that a wrong
// entry there fails.
func TestProbes(t *testing.T) {
	type probeCase struct {
		os, host, path string
		status         int
		body           string
		nmHeader       bool // X-NetworkManager-Status: online
	}
	cases := []probeCase{
		{"apple", "captive.apple.com", "/hotspot-detect.html", 200, appleSuccess, false},
		{"apple cname", "captive.g.aaplimg.com", "/hotspot-detect.html", 200, appleSuccess, false},
		{"apple old", "www.apple.com", "/library/test/success.html", 200, appleSuccess, false},
		{"apple ios 6", "www.appleiphonecell.com", "/", 200, appleSuccess, false},
		{"android", "connectivitycheck.gstatic.com", "/generate_204", 204, "", false},
		{"android aosp", "connectivitycheck.android.com", "/generate_204", 204, "", false},
		{"android oem", "connect.rom.miui.com", "/generate_204", 204, "", false},
		{"android gen_204", "www.google.com", "/gen_204", 204, "", false},
		{"android fallback", "play.googleapis.com", "/generate_204", 204, "", false},
		{"chromeos", "clients3.google.com", "/generate_204", 204, "", false},
		{"chrome old", "clients1.google.com", "/generate_204", 204, "", false},
		{"windows", "www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test", false},
		{"windows ipv6", "ipv6.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test", false},
		{"windows ncsi", "www.msftncsi.com", "/ncsi.txt", 200, "Microsoft NCSI", false},
		{"firefox", "detectportal.firefox.com", "/success.txt", 200, "success\n", false},
		{"firefox canonical", "detectportal.firefox.com", "/canonical.html", 200, `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`, false},
		{"gnome", "nmcheck.gnome.org", "/check_network_status.txt", 200, "NetworkManager is online\n", true},
		{"debian", "network-test.debian.org", "/nm", 200, "NetworkManager is online\n", true},
		{"ubuntu", "connectivity-check.ubuntu.com", "/", 204, "", true},
		{"opensuse", "conncheck.opensuse.org", "/", 200, "NetworkManager is online\n", true},
		{"arch", "ping.archlinux.org", "/nm-check.txt", 200, "NetworkManager is online\n", true},
		{"fedora", "fedoraproject.org", "/static/hotspot.txt", 200, "OK\n", true},
		{"kde", "networkcheck.kde.org", "/", 200, "OK\n", true},
	}
	env := newTestEnvWith(t, Config{}, func(d *Deps) { d.PortalURL = "https://example.com/" })
	cookie := env.signedIn(t, testArrival)
	for _, tc := range cases {
		t.Run(tc.os, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path+"?client_mac=DA-A1-19-5E-00-01", nil)
			resp, _ := env.do(t, req)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://example.com/?") ||
				!strings.Contains(loc, "client_mac=da%3Aa1%3A19%3A5e%3A00%3A01") {
				t.Errorf("captive: %d to %q, want 302 to the splash with the arrival", resp.StatusCode, loc)
			}
			req = httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
			req.AddCookie(cookie)
			resp, body := env.do(t, req)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("online: %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get("X-NetworkManager-Status") == "online"; got != tc.nmHeader {
				t.Errorf("online: X-NetworkManager-Status online %v, want %v", got, tc.nmHeader)
			}
		})
	}
	st := env.srv.Stats()
	if st.ProbesCaptive != uint64(len(cases)) || st.ProbesOnline != uint64(len(cases)) {
		t.Errorf("probe counters %d captive, %d online; want %d each", st.ProbesCaptive, st.ProbesOnline, len(cases))
	}
	// Every check of the one list (which the DNS sends here) is covered.
	for _, c := range probe.Checks {
		if c.Path == "" {
			continue // resolved only: no HTTP request
		}
		if !slices.ContainsFunc(cases, func(tc probeCase) bool { return tc.host == c.Host }) {
			t.Errorf("probe host %s untested", c.Host)
		}
	}
}

func TestForeignHost(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) { d.PortalURL = "https://example.com/" })
	resp, _ := env.get(t, "http://news.example/path?q=1")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "example.com" || loc.Query().Get("url") != "http://news.example/path?q=1" {
		t.Errorf("foreign host without session: %d %v", resp.StatusCode, loc)
	}
	cookie := env.signedIn(t, testArrival)
	req := httptest.NewRequest(http.MethodGet, "http://news.example/path", nil)
	req.AddCookie(cookie)
	resp, body := env.do(t, req)
	doc := parseHTML(t, body)
	if resp.StatusCode != http.StatusOK || doc.hasInput("terms") || !strings.Contains(doc.text, "Sie sind online") {
		t.Errorf("foreign host with session: %d, want the online page without the form", resp.StatusCode)
	}
	// The portal's own name is served normally.
	resp, _ = env.get(t, "http://example.com/")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("own host: %d", resp.StatusCode)
	}
}

// TestCaptiveAPI checks GET /api/captive against RFC 8908 §5's fields.
func TestCaptiveAPI(t *testing.T) {
	env := newTestEnvWith(t, Config{VenueInfoURL: "https://stadt.example/wlan"}, func(d *Deps) { d.PortalURL = "https://example.com/" })
	known := map[string]bool{"captive": true, "user-portal-url": true, "venue-info-url": true,
		"can-extend-session": true, "seconds-remaining": true, "bytes-remaining": true}
	check := func(t *testing.T, req *http.Request) map[string]any {
		t.Helper()
		resp, body := env.do(t, req)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/captive+json" ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			if !known[k] {
				t.Errorf("field %q is not in RFC 8908", k)
			}
		}
		return m
	}
	m := check(t, httptest.NewRequest(http.MethodGet, "/api/captive", nil))
	if m["captive"] != true || m["user-portal-url"] != "https://example.com/" || m["venue-info-url"] != "https://stadt.example/wlan" || m["seconds-remaining"] != nil {
		t.Errorf("captive state %v", m)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/captive", nil)
	req.AddCookie(env.signedIn(t, testArrival))
	m = check(t, req)
	left, _ := m["seconds-remaining"].(float64)
	if m["captive"] != false || m["can-extend-session"] != false || left < 86000 || left > 86370 {
		t.Errorf("online state %v", m)
	}
}

// TestReturningDevice: a valid cookie with a MAC the session does not know
// (another SSID, a rotated private address) gets "Welcome back", one tap
// re-binds, no terms again.
func TestReturningDevice(t *testing.T) {
	env := newTestEnv(t, Config{})
	cookie := env.signedIn(t, testArrival)
	req := httptest.NewRequest(http.MethodGet, "/?client_mac=DA-A1-19-5E-00-02&ssid=Stadt-WLAN", nil)
	req.AddCookie(cookie)
	resp, body := env.do(t, req)
	doc := parseHTML(t, body)
	if resp.StatusCode != 200 || doc.hasInput("terms") || !strings.Contains(doc.text, "Willkommen zurück") {
		t.Fatalf("returning device: %d, want Welcome back without terms\n%s", resp.StatusCode, body)
	}
	forms := doc.find("form")
	if len(forms) != 1 || forms[0].attr("action") != "/continue" {
		t.Fatalf("forms %v, want one posting to /continue", forms)
	}
	v := url.Values{}
	for _, in := range doc.find("input") {
		v.Set(in.attr("name"), in.attr("value"))
	}
	csrfC := cookieNamed(resp, csrfCookie)
	post := httptest.NewRequest(http.MethodPost, "/continue", strings.NewReader(v.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.AddCookie(cookie)
	if csrfC != nil {
		post.AddCookie(csrfC)
	}
	resp, _ = env.do(t, post)
	newCookie := cookieNamed(resp, sessionCookie)
	if resp.StatusCode != http.StatusSeeOther || newCookie == nil || newCookie.Value == cookie.Value {
		t.Fatalf("POST /continue: %d, cookie %v; want 303 and a new token", resp.StatusCode, newCookie)
	}
	if n := len(env.sessions.created()); n != 1 || env.srv.Stats().Rebinds != 1 {
		t.Errorf("%d sessions, %d rebinds; want 1 and 1", n, env.srv.Stats().Rebinds)
	}
	// Back with the same MAC: online, no tap needed.
	req = httptest.NewRequest(http.MethodGet, "/?client_mac=DA-A1-19-5E-00-02", nil)
	req.AddCookie(newCookie)
	_, body = env.do(t, req)
	if !strings.Contains(body, "Sie sind online") {
		t.Error("after the rebind the device is not shown online")
	}
	// Without CSRF, /continue is refused.
	post = httptest.NewRequest(http.MethodPost, "/continue", strings.NewReader("client_mac=DA-A1-19-5E-00-03"))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.AddCookie(newCookie)
	if resp, _ := env.do(t, post); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/continue without CSRF: %d, want 403", resp.StatusCode)
	}
}

// TestVendorStepThroughPortal: a Cisco arrival ends in a form to the WLC,
// whose CSP allows exactly that form target and the continue URL the WLC
// redirects to (browsers check form-action on every redirect hop).
func TestVendorStepThroughPortal(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	f := env.splash(t, "?switch_url=https://192.0.2.1/login.html&ap_mac=00:11:22:33:44:55&client_mac=da:a1:19:5e:00:01&wlan=WiFi4EU&redirect=www.example.org/")
	resp, body := env.post(t, accepted(f), f.cookie)
	doc := parseHTML(t, body)
	forms := doc.find("form")
	if resp.StatusCode != 200 || len(forms) != 1 || forms[0].attr("action") != "https://192.0.2.1/login.html" {
		t.Fatalf("step: %d, forms %v", resp.StatusCode, forms)
	}
	if doc.input(t, "username").attr("value") == "" || doc.input(t, "password").attr("value") != "uam-00000000" {
		t.Errorf("step fields: username %q password %q", doc.input(t, "username").attr("value"), doc.input(t, "password").attr("value"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://192.0.2.1 http://www.example.org;") {
		t.Errorf("CSP %q does not allow exactly the WLC and the continue URL as form targets", csp)
	}
}

// TestDisconnect: the status page's sign-out revokes the session.
func TestDisconnect(t *testing.T) {
	env := newTestEnv(t, Config{})
	cookie := env.signedIn(t, testArrival)
	req := httptest.NewRequest(http.MethodGet, "/status", nil)
	req.AddCookie(cookie)
	resp, body := env.do(t, req)
	token := parseHTML(t, body).input(t, csrfField).attr("value")
	post := httptest.NewRequest(http.MethodPost, "/status/disconnect", strings.NewReader(url.Values{csrfField: {token}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.AddCookie(cookie)
	post.AddCookie(cookieNamed(resp, csrfCookie))
	resp, body = env.do(t, post)
	if resp.StatusCode != 200 || !strings.Contains(body, "Abgemeldet") || env.srv.Stats().Revokes != 1 {
		t.Fatalf("disconnect: %d", resp.StatusCode)
	}
	if _, err := env.sessions.FromToken(cookie.Value); err == nil {
		t.Error("session still live after sign-out")
	}
}

// TestConnectLimit: the per-MAC limit stops a script signing one MAC in
// over and over.
func TestConnectLimit(t *testing.T) {
	env := newTestEnv(t, Config{})
	f := env.splash(t, testArrival)
	var last int
	var retry string
	for i := 0; i < connectsPerMAC+1; i++ {
		resp, _ := env.post(t, accepted(f), f.cookie)
		last, retry = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if last != http.StatusTooManyRequests || env.srv.Stats().RateLimited != 1 {
		t.Errorf("post %d: %d, %d limited; want 429 once", connectsPerMAC+1, last, env.srv.Stats().RateLimited)
	}
	// The wait is what is left of the MAC's minute.
	if secs, err := strconv.Atoi(retry); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After = %q, want 1 to 60 seconds", retry)
	}
}

// TestVendorParamsEscaped: XSS and open-redirect attempts in every vendor's
// parameters are refused or escaped.
func TestVendorParamsEscaped(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	const xss = `"><script>alert(1)</script>`
	evil := "https://evil.example/"
	params := []string{
		"client_mac", "ap_mac", "ssid", "nas_id", "url",
		"res", "uamip", "uamport", "challenge", "called", "mac", "ip", "nasid", "sessionid", "userurl",
		"switch_url", "wlan", "redirect", "login_url", "continue_url", "base_grant_url", "user_continue_url", "ap_name", "client_ip",
		"cmd", "essid", "apname", "apmac", "switchip", "link-login-only", "link-orig", "chap-id", "chap-challenge", "identity",
		"fas", "iv", "id", "ap", "t",
	}
	for _, p := range params {
		for _, bad := range []string{xss, evil, "javascript:alert(1)", "//evil.example/"} {
			q := url.Values{p: {bad}}
			// a vendor's marker parameter, so its adapter parses the rest
			for _, marker := range []string{"uamip=10.1.0.1&challenge=00112233445566778899aabbccddeeff", "switch_url=https://10.0.0.1/", "cmd=login&essid=x", "link-login-only=http://10.5.50.1/login", "id=da:a1:19:5e:00:01&ap=00:11:22:33:44:55&t=1"} {
				resp, body := env.get(t, "/?"+q.Encode()+"&"+marker)
				if resp.StatusCode != 200 {
					t.Fatalf("%s=%q: status %d", p, bad, resp.StatusCode)
				}
				if strings.Contains(body, "<script>alert") {
					t.Errorf("%s=%q (%s): script reflected", p, bad, marker)
				}
				doc := parseHTML(t, body)
				if len(doc.find("script")) != 0 {
					t.Errorf("%s=%q (%s): a <script> on the splash", p, bad, marker)
				}
				for _, e := range doc.elements {
					for _, attr := range []string{"href", "action", "src"} {
						if v, ok := e.attrs[attr]; ok && (!strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//")) {
							t.Errorf("%s=%q (%s): <%s %s=%q> leaves the portal", p, bad, marker, e.name, attr, v)
						}
					}
					if e.name == "input" && (strings.HasPrefix(e.attr("value"), "javascript:") || strings.HasPrefix(e.attr("value"), "//")) &&
						slices.Contains([]string{"url", "userurl", "redirect", "continue_url", "user_continue_url", "link-orig", "switch_url", "login_url", "base_grant_url", "link-login-only"}, e.attr("name")) {
						t.Errorf("%s=%q (%s): unsafe URL carried in %s", p, bad, marker, e.attr("name"))
					}
				}
			}
		}
	}
}

type fakeReauthorizer struct {
	ids   []string
	hints []NASHint
}

func (f *fakeReauthorizer) Reauthorize(_ context.Context, s session.Session, at NASHint) error {
	f.ids = append(f.ids, s.ID)
	f.hints = append(f.hints, at)
	return nil
}

// TestMACAuthReauthorize: an access point that RADIUS knows as mac-auth gets
// a re-authorisation for the device that has just signed in.
func TestMACAuthReauthorize(t *testing.T) {
	re := &fakeReauthorizer{}
	var asked []netip.Addr
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.Reauthorizer = re
		d.VendorFor = func(a netip.Addr) string { asked = append(asked, a); return vendor.MACAuth }
	})
	env.signedIn(t, testArrival)
	if len(re.ids) != 1 || len(asked) == 0 {
		t.Fatalf("reauthorised %v (vendor asked for %v), want the new session once", re.ids, asked)
	}
	// The arrival names the access point, so RADIUS can find the NAS of a
	// device no NAS has reported yet.
	ap, _ := session.ParseMAC("0011.2233.4455")
	if h := re.hints[0]; h.ID != "nas-bahnhof" || !h.HasAP || h.AP != ap || h.Addr.IsValid() {
		t.Errorf("hint %+v, want nas-bahnhof at 00:11:22:33:44:55 and no address (127.0.0.1 is no AP network here)", h)
	}
}

// TestProbeByAddress: an OS probe carries no cookie (Apple's and Android's
// probe agents keep their own); the device is known by its address — unless
// that address is an access point's, which NATs every device behind it.
func TestProbeByAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		apNets []netip.Prefix
		want   int
		// wantIP is the address the sign-in claims: the device's own,
		// never an access point's (issue 11 item 2: it would stand for
		// every device behind it).
		wantIP netip.Addr
	}{
		{"known address", nil, http.StatusNoContent, netip.MustParseAddr("127.0.0.1")},
		{"address of a NATing access point", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, http.StatusFound, netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnvWith(t, Config{}, func(d *Deps) { d.APNetworks = tc.apNets })
			base := env.serve(t)
			c := browser(t)
			_, body := fetch(t, c, newRequest(t, "GET", base+"/"+testArrival, nil))
			v := formValues(t, body)
			v.Set("terms", "1")
			v.Set("accept", "1")
			if resp, _ := fetch(t, c, newRequest(t, "POST", base+"/connect", v)); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", resp.StatusCode)
			}
			if got := env.sessions.created()[0].ClientIP; got != tc.wantIP {
				t.Fatalf("session client IP %v, want %v", got, tc.wantIP)
			}
			resp, _ := fetch(t, browser(t), newRequest(t, "GET", base+"/generate_204", nil)) // no cookies
			if resp.StatusCode != tc.want {
				t.Errorf("probe without cookie: %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestCoovaRoundTrip: the splash sends a Coova device to /logon with a CHAP
// response; CoovaChilli then sends it back with res=success, and the portal
// forwards it to its page instead of offering the login again.
func TestCoovaRoundTrip(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}
	})
	arrival := "?res=notyet&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090&mac=DA-A1-19-5E-00-01&nasid=nas-bahnhof&userurl=http%3A%2F%2Fexample.org%2F"
	f := env.splash(t, arrival)
	resp, _ := env.post(t, accepted(f), f.cookie)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "10.1.0.1:3990" || loc.Path != "/logon" || len(loc.Query().Get("response")) != 32 {
		t.Fatalf("sign-in: %d to %v, want the CHAP logon at the access point", resp.StatusCode, loc)
	}
	if loc.Query().Get("username") != "00000000000000000000000000000001" {
		t.Errorf("logon username %q, want the session ID", loc.Query().Get("username"))
	}
	cookie := cookieNamed(resp, sessionCookie)
	req := httptest.NewRequest(http.MethodGet, "/?res=success&uamip=10.1.0.1&uamport=3990&mac=DA-A1-19-5E-00-01&userurl=http%3A%2F%2Fexample.org%2F", nil)
	req.AddCookie(cookie)
	req.AddCookie(cookieNamed(resp, continueCookie)) // the continue URL this browser was sent on with
	resp, _ = env.do(t, req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://example.org/" {
		t.Errorf("res=success: %d to %q, want the continue URL", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Sent to the splash again (the access point forgot the device): one
	// tap, no terms.
	req = httptest.NewRequest(http.MethodGet, "/"+arrival, nil)
	req.AddCookie(cookie)
	_, body := env.do(t, req)
	if doc := parseHTML(t, body); doc.hasInput("terms") || len(doc.find("form")) != 1 || doc.find("form")[0].attr("action") != "/continue" {
		t.Error("a signed-in Coova device back at the splash is not offered the one-tap continue")
	}
}

// TestRedirectAddressClaimsNothing: an address the redirect names (Coova's
// ip=) is the browser's word, so it never becomes the session's address —
// anyone could name a signed-in device's address, sign in, sign out, and
// leave that device captive (issue 11 item 2). The request's own address
// does, when it is no access point's.
func TestRedirectAddressClaimsNothing(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}
	})
	base := env.serve(t)
	c := browser(t)
	arrival := "?res=notyet&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090&mac=DA-A1-19-5E-00-02&ip=10.1.0.77&nasid=nas-bahnhof&userurl=http%3A%2F%2Fexample.org%2F"
	_, body := fetch(t, c, newRequest(t, "GET", base+"/"+arrival, nil))
	v := formValues(t, body)
	if v.Get("ip") != "10.1.0.77" {
		t.Fatalf("the form does not carry ip= (%q): the test would prove nothing", v.Get("ip"))
	}
	v.Set("terms", "1")
	v.Set("accept", "1")
	if resp, _ := fetch(t, c, newRequest(t, "POST", base+"/connect", v)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	if got := env.sessions.created()[0].ClientIP; got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("session client IP %v, want the request's own 127.0.0.1, never the redirect's ip=", got)
	}
}

// TestConnectPresentsTheCookie: a sign-in hands the session layer the token
// of the browser's cookie, its proof of holding a session; a browser
// without one presents nothing (issue 11 item 1).
func TestConnectPresentsTheCookie(t *testing.T) {
	env := newTestEnv(t, Config{})
	base := env.serve(t)
	c := browser(t)
	_, body := fetch(t, c, newRequest(t, "GET", base+"/"+testArrival, nil))
	v := formValues(t, body)
	v.Set("terms", "1")
	v.Set("accept", "1")
	for range 2 { // the second time with the session cookie the first set
		if resp, _ := fetch(t, c, newRequest(t, "POST", base+"/connect", v)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
	}
	created := env.sessions.created()
	if len(created) != 2 || created[0].Token != "" || created[1].Token != "eyJ.fake-token-1.sig" {
		t.Errorf("tokens presented: %q, want none, then the first sign-in's cookie", []string{created[0].Token, created[len(created)-1].Token})
	}
}
