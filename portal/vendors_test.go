package portal

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"roamgate/assets"
	"roamgate/internal/controllertest"
	"roamgate/internal/testtool"
)

// unifiQuery is what a UniFi controller appends to /guest/s/<site>/ (see
// portal/vendor/unifi.go).
const unifiQuery = "?ap=f0:9f:c2:12:34:56&id=DA:A1:19:5E:00:21&t=1764201600&url=http%3A%2F%2Fexample.org%2Fnews&ssid=WiFi4EU"

// TestUniFiGuestPath: the controller sends the browser to
// /guest/s/<site>/ on the portal's own host; any site name is the splash.
func TestUniFiGuestPath(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) { d.PortalURL = "https://wlan.stadt.example/" })
	for _, path := range []string{"/guest/s/default/", "/guest/s/x7yb2kq9/", "/guest/s/default"} {
		t.Run(path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path+unifiQuery, nil)
			req.Host = "wlan.stadt.example"
			resp, body := env.do(t, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d, want the splash", path, resp.StatusCode)
			}
			doc := parseHTML(t, body)
			if doc.input(t, "id").attr("value") != "da:a1:19:5e:00:21" || doc.input(t, "ap").attr("value") != "f0:9f:c2:12:34:56" ||
				doc.input(t, "url").attr("value") != "http://example.org/news" {
				t.Errorf("splash does not carry the UniFi arrival:\n%s", body)
			}
		})
	}
	// Other paths on the portal's host are still not found.
	req := httptest.NewRequest(http.MethodGet, "/guest/x/default/"+unifiQuery, nil)
	req.Host = "wlan.stadt.example"
	if resp, _ := env.do(t, req); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /guest/x/default/: %d, want 404", resp.StatusCode)
	}
}

// TestUniFiController: the whole UniFi sign-in against a controller that
// enforces its API over HTTPS with a self-signed certificate (ca_file).
// A refused authorize-guest shows the retry page in the citizen's language,
// never "you are online", and is counted; the retry then gets the device
// through.
func TestUniFiController(t *testing.T) {
	ctrl := &controllertest.UniFi{Username: "roamgate", Password: "s3cret", Site: "default"}
	srv := controllertest.Serve(t, ctrl)
	env := newTestEnv(t, Config{UniFi: UniFiConfig{URL: srv.URL, Username: "roamgate", Password: "s3cret", CAFile: controllertest.CAFile(t, srv)}})
	base := env.serve(t)

	for i, lang := range DefaultLanguages() {
		t.Run(lang, func(t *testing.T) {
			// A device per language: the per-MAC limit allows six sign-ins
			// a minute.
			arrival := strings.Replace(unifiQuery, "00:21", fmt.Sprintf("00:%02x", 0x21+i), 1)
			mac := fmt.Sprintf("da:a1:19:5e:00:%02x", 0x21+i)
			cat, err := assets.Messages(lang)
			if err != nil {
				t.Fatal(err)
			}
			c := browser(t)
			before := env.srv.Stats().ControllerErrors
			ctrl.Refuse("api.err.Invalid")
			_, body := fetch(t, c, newRequest(t, "GET", base+"/guest/s/default/"+arrival+"&lang="+lang, nil))
			resp, body := fetch(t, c, newRequest(t, "POST", base+"/connect", formValues(t, body)))
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Location") != "" {
				t.Fatalf("refused authorize-guest: %d, Location %q; want 502, the retry page", resp.StatusCode, resp.Header.Get("Location"))
			}
			doc := parseHTML(t, body)
			if h1 := doc.find("h1"); len(h1) != 1 || h1[0].text != cat.T("retry.heading") || doc.find("html")[0].attr("lang") != lang {
				t.Errorf("retry page heading %v, want %q in %s", h1, cat.T("retry.heading"), lang)
			}
			for _, online := range []string{cat.T("status.heading"), cat.T("splash.online_heading")} {
				if strings.Contains(body, online) {
					t.Errorf("retry page says %q", online)
				}
			}
			if got := env.srv.Stats().ControllerErrors; got != before+1 {
				t.Errorf("controller errors %d → %d, want one more", before, got)
			}

			// The controller takes the guest again: the retry button gets
			// the device through and on to where it wanted to go.
			ctrl.Refuse("")
			calls := len(ctrl.Calls())
			form := doc.find("form")
			if len(form) != 1 || form[0].attr("action") != "/continue" {
				t.Fatalf("retry page form %v", form)
			}
			v := url.Values{}
			for _, in := range doc.find("input") {
				v.Set(in.attr("name"), in.attr("value"))
			}
			v.Set("continue", "1")
			resp, _ = fetch(t, c, newRequest(t, "POST", base+"/continue", v))
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://example.org/news" {
				t.Fatalf("retry: %d → %q, want 303 to the continue URL", resp.StatusCode, resp.Header.Get("Location"))
			}
			if got := ctrl.Calls(); len(got) != calls+1 || got[len(got)-1].MAC != mac || got[len(got)-1].APMAC != "f0:9f:c2:12:34:56" {
				t.Errorf("controller calls %+v", got)
			}
		})
	}
}

// TestControllerTLSConfig: ca_file and insecure_skip_verify are validated
// with their key paths, and turning verification off is logged at start.
func TestControllerTLSConfig(t *testing.T) {
	srv := controllertest.Serve(t, &controllertest.UniFi{})
	ca := controllertest.CAFile(t, srv)
	unifi := func(caFile string, insecure bool) Config {
		return Config{UniFi: UniFiConfig{URL: srv.URL, Username: "a", Password: "b", CAFile: caFile, InsecureSkipVerify: insecure}}
	}
	omada := func(caFile string, insecure bool) Config {
		return Config{Omada: OmadaConfig{URL: srv.URL, ControllerID: "abc", Username: "a", Password: "b", CAFile: caFile, InsecureSkipVerify: insecure}}
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"unifi ca file", unifi(ca, false), ""},
		{"unifi missing ca file", unifi("/nonexistent.pem", false), "portal.unifi.ca_file: open /nonexistent.pem"},
		{"unifi both", unifi(ca, true), "portal.unifi.insecure_skip_verify: cannot be combined with portal.unifi.ca_file"},
		{"unifi ca file without url", Config{UniFi: UniFiConfig{CAFile: ca}}, "portal.unifi.url: is needed"},
		{"omada ca file", omada(ca, false), ""},
		{"omada not pem", omada(t.Name(), false), "portal.omada.ca_file:"},
		{"omada both", omada(ca, true), "portal.omada.insecure_skip_verify:"},
		{"omada no controller id", Config{Omada: OmadaConfig{URL: srv.URL, Username: "a", Password: "b"}}, "portal.omada.controller_id:"},
		{"omada no operator", Config{Omada: OmadaConfig{URL: srv.URL, ControllerID: "abc"}}, "portal.omada.username:"},
		{"omada bad url", Config{Omada: OmadaConfig{URL: "omada:8043", ControllerID: "abc", Username: "a", Password: "b"}}, `portal.omada.url: "omada:8043"`},
		{"omada time unit", Config{Omada: OmadaConfig{TimeUnit: "s"}}, `portal.omada.time_unit: "s" is not one of us, ms`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}

	for _, tc := range []struct {
		name string
		cfg  Config
		warn bool
	}{
		{"unifi verified", unifi(ca, false), false},
		{"unifi insecure", unifi("", true), true},
		{"omada insecure", omada("", true), true},
	} {
		t.Run("log/"+tc.name, func(t *testing.T) {
			var logs testtool.LogBuffer
			newTestEnvWith(t, tc.cfg, func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "NOT verified")
			if got != tc.warn {
				t.Errorf("warning logged = %v, want %v:\n%s", got, tc.warn, logs.String())
			}
		})
	}
}

// TestOmadaController: the Omada External Portal sign-in against a
// controller that enforces FAQ 3231's login, cookie and Csrf-Token, over
// HTTPS with its self-signed certificate in ca_file.
func TestOmadaController(t *testing.T) {
	const id = "5f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"
	ctrl := &controllertest.Omada{ControllerID: id, Username: "operator", Password: "s3cret"}
	srv := controllertest.Serve(t, ctrl)
	env := newTestEnv(t, Config{Omada: OmadaConfig{URL: srv.URL, ControllerID: id, Username: "operator", Password: "s3cret", CAFile: controllertest.CAFile(t, srv)}})
	base := env.serve(t)
	c := browser(t)
	arrival := "/?clientMac=DA-A1-19-5E-00-31&apMac=AC-84-C6-12-34-56&ssidName=WiFi4EU&t=1764201600000&radioId=1&site=Default&redirectUrl=http%3A%2F%2Fexample.org%2F"
	_, body := fetch(t, c, newRequest(t, "GET", base+arrival, nil))
	resp, _ := fetch(t, c, newRequest(t, "POST", base+"/connect", formValues(t, body)))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://example.org/" {
		t.Fatalf("POST /connect: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	calls := ctrl.Calls()
	if len(calls) != 1 || calls[0].ClientMAC != "DA-A1-19-5E-00-31" || calls[0].Site != "Default" || calls[0].Time < 23*3600*1_000_000 {
		t.Fatalf("controller calls %+v", calls)
	}
	if creates := env.sessions.created(); len(creates) != 1 || creates[0].MAC.String() != "da:a1:19:5e:00:31" || creates[0].AP != "ac:84:c6:12:34:56" {
		t.Errorf("session %+v", creates)
	}

	// The same device sent to the portal again (the controller's
	// authorisation ran out, another site): one tap, and the controller is
	// asked again — never "you are online" without asking it.
	resp, body = fetch(t, c, newRequest(t, "GET", base+arrival+"&lang=en", nil))
	doc := parseHTML(t, body)
	if resp.StatusCode != http.StatusOK || len(doc.find("form")) != 1 || doc.find("form")[0].attr("action") != "/continue" {
		t.Fatalf("returning Omada arrival: %d\n%s", resp.StatusCode, body)
	}
	v := url.Values{}
	for _, in := range doc.find("input") {
		v.Set(in.attr("name"), in.attr("value"))
	}
	resp, _ = fetch(t, c, newRequest(t, "POST", base+"/continue", v))
	if resp.StatusCode != http.StatusSeeOther || len(ctrl.Calls()) != 2 {
		t.Errorf("continue: %d, %d controller calls; want 303 after a second authorisation", resp.StatusCode, len(ctrl.Calls()))
	}

	ctrl.Refuse(true)
	c = browser(t)
	_, body = fetch(t, c, newRequest(t, "GET", base+strings.Replace(arrival, "00-31", "00-32", 1), nil))
	resp, body = fetch(t, c, newRequest(t, "POST", base+"/connect", formValues(t, body)))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `action="/continue"`) {
		t.Errorf("refused extPortal/auth: %d, want the retry page", resp.StatusCode)
	}
}

// TestCiscoStatusCode: the WLC sends the device back with statusCode after
// the portal's login step (vendor.cisco). 1 is "already logged in": on to
// the continue URL; 5 is "wrong credentials": the retry page, never online.
func TestCiscoStatusCode(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) { d.APNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	base := env.serve(t)
	c := browser(t)
	arrival := "/?switch_url=https%3A%2F%2F192.0.2.1%2Flogin.html&ap_mac=00:11:22:33:44:55&client_mac=DA-A1-19-5E-00-41&wlan=WiFi4EU&redirect=www.example.org/news"

	// Without a session: the splash, with the refusal said in words.
	resp, body := fetch(t, c, newRequest(t, "GET", base+arrival+"&statusCode=5&lang=en", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "The access point did not accept the sign-in.") || !strings.Contains(body, `name="accept"`) {
		t.Fatalf("statusCode=5 without a session: %d\n%s", resp.StatusCode, body)
	}
	// Sign in: the step posts to the WLC.
	resp, _ = fetch(t, c, newRequest(t, "POST", base+"/connect", formValues(t, body)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /connect: %d", resp.StatusCode)
	}
	before := env.srv.Stats().APRefusals
	for _, code := range []string{"3", "4", "5"} {
		resp, body = fetch(t, c, newRequest(t, "GET", base+arrival+"&statusCode="+code+"&lang=en", nil))
		doc := parseHTML(t, body)
		if resp.StatusCode != http.StatusOK || len(doc.find("h1")) != 1 || doc.find("h1")[0].text != "Not online yet" ||
			strings.Contains(body, "You are online") || doc.find("form")[0].attr("action") != "/continue" {
			t.Errorf("statusCode=%s with a session: %d\n%s", code, resp.StatusCode, body)
		}
	}
	if got := env.srv.Stats().APRefusals; got != before+3 {
		t.Errorf("AP refusals %d → %d, want 3 more", before, got)
	}
	resp, _ = fetch(t, c, newRequest(t, "GET", base+arrival+"&statusCode=1", nil))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://www.example.org/news" {
		t.Errorf("statusCode=1: %d → %q, want on to the continue URL", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestMikroTikScheme: the rule for a form step's scheme. An http page may
// post anywhere; an https page posts only to https. When the hotspot offers
// only http and the page is https, the step is a 303 redirect with the
// fields as a query instead (Chromium warns on an https → http form post,
// not on a 303 that follows a post).
func TestMikroTikScheme(t *testing.T) {
	const chap = "&mac=DA%3AA1%3A19%3A5E%3A00%3A51&chap-id=%5C357&chap-challenge=%5C052%5C211&link-orig=http%3A%2F%2Fexample.org%2F"
	cases := []struct {
		name, links string
		https       bool
		wantForm    string // the form's action, or "" for a redirect
		wantGet     string // the redirect's scheme and host
	}{
		{"http page, http hotspot", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin", false, "http://10.5.50.1/login", ""},
		{"https page, https hotspot", "link-login-only=https%3A%2F%2Fhotspot.stadt.example%2Flogin", true, "https://hotspot.stadt.example/login", ""},
		{"https page, https link-login", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin&link-login=https%3A%2F%2Fhotspot.stadt.example%2Flogin%3Fdst%3Dx", true, "https://hotspot.stadt.example/login", ""},
		{"https page, http hotspot", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin", true, "", "http://10.5.50.1/login"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnvWith(t, Config{TrustedProxies: []string{"127.0.0.1"}, LoginHosts: []string{"hotspot.stadt.example"}},
				func(d *Deps) { d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.5.50.0/24")} })
			base := env.serve(t)
			c := browser(t)
			req := func(method, target string, v url.Values) *http.Request {
				r := newRequest(t, method, base+target, v)
				if tc.https {
					r.Header.Set("X-Forwarded-Proto", "https")
					r.Header.Set("Referer", "https://"+r.Host+"/")
				}
				return r
			}
			_, body := fetch(t, c, req("GET", "/?"+tc.links+chap, nil))
			resp, body := fetch(t, c, req("POST", "/connect", formValues(t, body)))
			if tc.wantForm != "" {
				doc := parseHTML(t, body)
				if resp.StatusCode != http.StatusOK || doc.find("form")[0].attr("action") != tc.wantForm {
					t.Fatalf("step: %d, form %v; want a form posting to %s", resp.StatusCode, doc.find("form"), tc.wantForm)
				}
				return
			}
			u, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || err != nil || u.Scheme+"://"+u.Host+u.Path != tc.wantGet {
				t.Fatalf("step: %d → %q, want a 303 to %s", resp.StatusCode, resp.Header.Get("Location"), tc.wantGet)
			}
			q := u.Query()
			if len(q.Get("username")) != 32 || len(q.Get("password")) != 32 || q.Get("dst") != "http://example.org/" || q.Get("popup") != "false" {
				t.Errorf("login query %v", q)
			}
		})
	}
}
