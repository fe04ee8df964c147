package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"roamgate/assets"
	"roamgate/session"
)

const testArrival = "?client_mac=AA-BB-CC-DD-EE-01&ap_mac=0011.2233.4455&ssid=WiFi4EU&nas_id=nas-bahnhof&url=https%3A%2F%2Fexample.org%2Fnews%3Fa%3D1"

func TestSplashForm(t *testing.T) {
	env := newTestEnv(t, Config{})
	resp, body := env.get(t, "/"+testArrival)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	doc := parseHTML(t, body)
	if html := doc.find("html"); len(html) != 1 || html[0].attr("lang") != "de" {
		t.Errorf(`want one <html lang="de">, got %v`, html)
	}
	if h1 := doc.find("h1"); len(h1) != 1 || h1[0].text != "Willkommen im WLAN am Bahnhof" {
		t.Errorf("want one German <h1>, got %v", h1)
	}
	if forms := doc.find("form"); len(forms) != 1 || forms[0].attr("method") != "post" || forms[0].attr("action") != "/connect" {
		t.Errorf("want one form posting to /connect, got %v", forms)
	}
	hidden := map[string]string{
		"client_mac": "aa:bb:cc:dd:ee:01",
		"ap_mac":     "00:11:22:33:44:55",
		"ssid":       "WiFi4EU",
		"nas_id":     "nas-bahnhof",
		"url":        "https://example.org/news?a=1",
	}
	for name, want := range hidden {
		in := doc.input(t, name)
		if in.attr("type") != "hidden" || in.attr("value") != want {
			t.Errorf("field %s = %v, want hidden %q", name, in.attrs, want)
		}
	}
	csrf := doc.input(t, csrfField)
	if csrf.attr("type") != "hidden" || len(csrf.attr("value")) != 36 {
		t.Errorf("csrf field = %v, want a hidden 36-character token", csrf.attrs)
	}
	// One tap: no checkbox; the button, below the terms, names them.
	if doc.hasInput("terms") {
		t.Error("a terms checkbox without portal.terms_checkbox")
	}
	accept := doc.input(t, "accept")
	if accept.name != "button" || accept.attr("type") != "submit" || accept.attr("value") != "1" ||
		accept.text != "Nutzungsbedingungen akzeptieren und online gehen" {
		t.Errorf("accept = %+v, want <button type=submit name=accept value=1>Nutzungsbedingungen akzeptieren und online gehen", accept)
	}
	if terms, button := strings.Index(body, `id="terms-heading"`), strings.Index(body, `name="accept"`); terms < 0 || terms > button {
		t.Error("the terms are not above the button")
	}
	for _, want := range []string{"Stadt Musterstadt", "aa:bb:cc:dd:ee:01", "Nutzungsbedingungen"} {
		if !strings.Contains(doc.text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if len(doc.find("script")) != 0 {
		t.Error("splash has a <script>")
	}
	c := cookieNamed(resp, csrfCookie)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("CSRF cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure over HTTP", c)
	}
	if got := env.srv.Stats().InvalidParams; got != 0 {
		t.Errorf("InvalidParams = %d for valid parameters", got)
	}
}

// TestSplashFormWithTermsCheckbox: with portal.terms_checkbox the form has
// a required, labelled checkbox besides the button.
func TestSplashFormWithTermsCheckbox(t *testing.T) {
	env := newTestEnv(t, Config{TermsCheckbox: true})
	_, body := env.get(t, "/"+testArrival)
	doc := parseHTML(t, body)
	terms := doc.input(t, "terms")
	if terms.attr("type") != "checkbox" || terms.attr("value") != "1" || !terms.has("required") {
		t.Errorf("terms field = %v, want a required checkbox with value 1", terms.attrs)
	}
	var labelled bool
	for _, l := range doc.find("label") {
		labelled = labelled || (l.attr("for") == terms.attr("id") && terms.attr("id") != "")
	}
	if !labelled {
		t.Error("terms checkbox has no <label for>")
	}
}

func TestSplashReusesCSRFCookie(t *testing.T) {
	env := newTestEnv(t, Config{})
	f := env.splash(t, "")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(f.cookie)
	resp, body := env.do(t, req)
	if c := cookieNamed(resp, csrfCookie); c != nil && c.Value != f.cookie.Value {
		t.Errorf("second GET replaced the CSRF cookie: %v", c)
	}
	if got := parseHTML(t, body).input(t, csrfField).attr("value"); got != f.values.Get(csrfField) {
		t.Errorf("token changed for the same cookie: %q, then %q", f.values.Get(csrfField), got)
	}
}

func TestSplashLanguage(t *testing.T) {
	cases := []struct {
		name, query, accept string
		cfg                 Config
		wantLang, wantH1    string
		wantHiddenLang      string
	}{
		{name: "default German", wantLang: "de", wantH1: "Willkommen im WLAN"},
		{name: "browser English", accept: "en-US,en;q=0.9", wantLang: "en", wantH1: "Welcome to the Wi-Fi"},
		{name: "browser French falls back", accept: "fr-FR,fr;q=0.9", wantLang: "de", wantH1: "Willkommen im WLAN"},
		{name: "browser prefers German", accept: "de-AT,en;q=0.5", wantLang: "de", wantH1: "Willkommen im WLAN"},
		{name: "explicit", query: "?lang=en", accept: "de", wantLang: "en", wantH1: "Welcome to the Wi-Fi", wantHiddenLang: "en"},
		{name: "explicit unknown", query: "?lang=xx", wantLang: "de", wantH1: "Willkommen im WLAN"},
		{name: "hostile header", accept: strings.Repeat("en;q=0.1,", 200), wantLang: "de", wantH1: "Willkommen im WLAN"},
		{name: "only English configured", cfg: Config{Languages: []string{"en"}}, accept: "de", wantLang: "en", wantH1: "Welcome to the Wi-Fi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, tc.cfg)
			_, body := env.get(t, "/"+tc.query, "Accept-Language", tc.accept)
			doc := parseHTML(t, body)
			if got := doc.find("html")[0].attr("lang"); got != tc.wantLang {
				t.Errorf("lang = %q, want %q", got, tc.wantLang)
			}
			if got := doc.find("h1")[0].text; got != tc.wantH1 {
				t.Errorf("h1 = %q, want %q", got, tc.wantH1)
			}
			var hiddenLang string
			if doc.hasInput("lang") {
				hiddenLang = doc.input(t, "lang").attr("value")
			}
			if hiddenLang != tc.wantHiddenLang {
				t.Errorf("hidden lang = %q, want %q", hiddenLang, tc.wantHiddenLang)
			}
		})
	}
}

func TestSplashHostileParams(t *testing.T) {
	long := strings.Repeat("a", 300)
	cases := []struct {
		name        string
		params      url.Values
		wantInvalid uint64
		wantFields  map[string]string // hidden fields that must be there, with values
		absent      []string          // hidden fields that must not be there
		wantText    string
	}{
		{
			name:       "script in ssid is escaped, not refused",
			params:     url.Values{"ssid": {"<script>alert(1)</script>"}},
			wantFields: map[string]string{"ssid": "<script>alert(1)</script>"},
		},
		{
			name:       "attribute breakout in nas_id",
			params:     url.Values{"nas_id": {`"><img src=x onerror=alert(1)>`}},
			wantFields: map[string]string{"nas_id": `"><img src=x onerror=alert(1)>`},
		},
		{name: "javascript url", params: url.Values{"url": {"javascript:alert(document.cookie)"}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "scheme-relative url", params: url.Values{"url": {"//evil.example/phish"}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "data url", params: url.Values{"url": {"data:text/html,<script>alert(1)</script>"}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "url with credentials", params: url.Values{"url": {"https://bank.example@evil.example/"}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "url with header injection", params: url.Values{"url": {"https://ok.example/\r\nSet-Cookie: x=1"}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "overlong url", params: url.Values{"url": {"https://ok.example/" + strings.Repeat("a", 2048)}}, wantInvalid: 1, absent: []string{"url"}},
		{name: "overlong nas_id", params: url.Values{"nas_id": {long}}, wantInvalid: 1, absent: []string{"nas_id"}},
		{name: "overlong ssid", params: url.Values{"ssid": {strings.Repeat("x", 32+1)}}, wantInvalid: 1, absent: []string{"ssid"}},
		{name: "control character in ssid", params: url.Values{"ssid": {"Wi\x00Fi"}}, wantInvalid: 1, absent: []string{"ssid"}},
		{name: "bidi override in ssid", params: url.Values{"ssid": {"Free\u202eWiFi"}}, wantInvalid: 1, absent: []string{"ssid"}},
		{
			name:        "bad MAC shown as unknown device",
			params:      url.Values{"client_mac": {"zz:bb:cc:dd:ee:ff"}, "ap_mac": {"<script>"}},
			wantInvalid: 2, absent: []string{"client_mac", "ap_mac"}, wantText: "unbekanntes Gerät",
		},
		{name: "multicast MAC", params: url.Values{"client_mac": {"01:00:5e:00:00:01"}}, wantInvalid: 1, absent: []string{"client_mac"}, wantText: "unbekanntes Gerät"},
		{name: "zero MAC", params: url.Values{"client_mac": {"00:00:00:00:00:00"}}, wantInvalid: 1, absent: []string{"client_mac"}},
		{
			name:       "umlaut ssid kept",
			params:     url.Values{"ssid": {"Brückerfeld ☕"}},
			wantFields: map[string]string{"ssid": "Brückerfeld ☕"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{})
			resp, body := env.get(t, "/?"+tc.params.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200: hostile parameters are dropped, the page still works", resp.StatusCode)
			}
			for _, raw := range []string{"<script", "<img", "javascript:", "evil.example", "\r\n"} {
				if strings.Contains(body, raw) {
					t.Errorf("body contains %q unescaped", raw)
				}
			}
			doc := parseHTML(t, body)
			for name, want := range tc.wantFields {
				if got := doc.input(t, name).attr("value"); got != want {
					t.Errorf("field %s = %q, want %q", name, got, want)
				}
			}
			for _, name := range tc.absent {
				if doc.hasInput(name) {
					t.Errorf("refused parameter %s is still carried in the form", name)
				}
			}
			if tc.wantText != "" && !strings.Contains(doc.text, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
			if got := env.srv.Stats().InvalidParams; got != tc.wantInvalid {
				t.Errorf("InvalidParams = %d, want %d", got, tc.wantInvalid)
			}
		})
	}
}

func TestConnectCSRF(t *testing.T) {
	cases := []struct {
		name string
		edit func(f *form, v url.Values, req *http.Request)
	}{
		{"no cookie", func(f *form, v url.Values, req *http.Request) { f.cookie = nil }},
		{"no token", func(f *form, v url.Values, req *http.Request) { v.Del(csrfField) }},
		{"wrong token", func(f *form, v url.Values, req *http.Request) {
			tok := []byte(v.Get(csrfField))
			tok[0] ^= 1
			v.Set(csrfField, string(tok))
		}},
		{"token of another cookie", func(f *form, v url.Values, req *http.Request) {
			f.cookie = &http.Cookie{Name: csrfCookie, Value: strings.Repeat("A", 43)}
		}},
		{"token in the query string only", func(f *form, v url.Values, req *http.Request) {
			req.URL.RawQuery = url.Values{csrfField: {v.Get(csrfField)}}.Encode()
			v.Del(csrfField)
		}},
		{"cross-site", func(f *form, v url.Values, req *http.Request) { req.Header.Set("Sec-Fetch-Site", "cross-site") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{})
			f := env.splash(t, testArrival)
			v := accepted(f)
			req := httptest.NewRequest(http.MethodPost, "/connect", nil)
			tc.edit(&f, v, req)
			req.Body = ioNopCloser(v.Encode())
			req.ContentLength = int64(len(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if f.cookie != nil {
				req.AddCookie(&http.Cookie{Name: f.cookie.Name, Value: f.cookie.Value})
			}
			resp, body := env.do(t, req)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			doc := parseHTML(t, body)
			if h1 := doc.find("h1"); len(h1) != 1 || h1[0].text != "Seite abgelaufen" {
				t.Errorf("h1 = %v, want the German expired-page heading", h1)
			}
			var back string
			for _, a := range doc.find("a") {
				back = a.attr("href")
			}
			if !strings.HasPrefix(back, "/?") || !strings.Contains(back, "client_mac=aa%3Abb%3Acc%3Add%3Aee%3A01") {
				t.Errorf("link back = %q, want the splash with the arrival parameters", back)
			}
			if cookieNamed(resp, sessionCookie) != nil || len(env.sessions.created()) != 0 {
				t.Error("a refused form created a session")
			}
			if got := env.srv.Stats().CSRFFailures; got != 1 {
				t.Errorf("CSRFFailures = %d, want 1", got)
			}
		})
	}
}

// TestConnectOneTap: without portal.terms_checkbox the button alone signs
// in, and a post without it does not.
func TestConnectOneTap(t *testing.T) {
	env := newTestEnv(t, Config{})
	f := env.splash(t, testArrival)
	v := accepted(f)
	v.Del("terms")
	if resp, _ := env.post(t, v, f.cookie); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the button alone: status %d, want 303", resp.StatusCode)
	}
	f = env.splash(t, testArrival)
	v = accepted(f)
	v.Del("accept")
	if resp, _ := env.post(t, v, f.cookie); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("without the button: status %d, want 400", resp.StatusCode)
	}
	if n := len(env.sessions.created()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// TestConnectRequiresTerms: with portal.terms_checkbox, the box must be
// ticked as well as the button pressed.
func TestConnectRequiresTerms(t *testing.T) {
	cases := []struct {
		name string
		edit func(url.Values)
	}{
		{"terms missing", func(v url.Values) { v.Del("terms") }},
		{"terms not 1", func(v url.Values) { v.Set("terms", "0") }},
		{"accept missing", func(v url.Values) { v.Del("accept") }},
		{"both missing", func(v url.Values) { v.Del("accept"); v.Del("terms") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{TermsCheckbox: true})
			f := env.splash(t, testArrival)
			v := accepted(f)
			tc.edit(v)
			resp, body := env.post(t, v, f.cookie)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			doc := parseHTML(t, body)
			alert := doc.find("p")
			var msg string
			for _, p := range alert {
				if p.attr("role") == "alert" {
					msg = p.text
				}
			}
			if msg != "Bitte bestätigen Sie, dass Sie die Nutzungsbedingungen akzeptieren." {
				t.Errorf("alert = %q, want the German terms message", msg)
			}
			if got := doc.input(t, "terms"); got.attr("aria-invalid") != "true" {
				t.Errorf("terms checkbox not marked invalid: %v", got.attrs)
			}
			if got := doc.input(t, "url").attr("value"); got != "https://example.org/news?a=1" {
				t.Errorf("form again lost the continue URL: %q", got)
			}
			if got := doc.input(t, csrfField).attr("value"); got != f.values.Get(csrfField) {
				t.Error("form again has a token that does not match the cookie")
			}
			if len(env.sessions.created()) != 0 || cookieNamed(resp, sessionCookie) != nil {
				t.Error("a session was created without the terms accepted")
			}
			if got := env.srv.Stats().TermsRefused; got != 1 {
				t.Errorf("TermsRefused = %d, want 1", got)
			}
		})
	}
}

func TestConnect(t *testing.T) {
	cases := []struct {
		name        string
		query       string
		edit        func(url.Values)
		wantTarget  string
		wantRequest session.CreateRequest
	}{
		{
			name: "continue URL", query: testArrival, wantTarget: "https://example.org/news?a=1",
			wantRequest: session.CreateRequest{
				MAC: session.MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01}, HasMAC: true,
				Network: "wifi4eu", Location: "bahnhof", AP: "00:11:22:33:44:55",
			},
		},
		{name: "no continue URL", query: "", wantTarget: "/status"},
		{name: "explicit language kept", query: "?lang=en", wantTarget: "/status?lang=en"},
		{
			name: "tampered form is validated again", query: testArrival,
			edit: func(v url.Values) {
				v.Set("url", "javascript:alert(1)")
				v.Set("client_mac", "ff:ff:ff:ff:ff:ff")
			},
			wantTarget:  "/status",
			wantRequest: session.CreateRequest{Network: "wifi4eu", Location: "bahnhof", AP: "00:11:22:33:44:55"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{})
			f := env.splash(t, tc.query)
			v := accepted(f)
			if tc.edit != nil {
				tc.edit(v)
			}
			resp, _ := env.post(t, v, f.cookie)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303", resp.StatusCode)
			}
			if got := resp.Header.Get("Location"); got != tc.wantTarget {
				t.Errorf("Location = %q, want %q", got, tc.wantTarget)
			}
			c := cookieNamed(resp, sessionCookie)
			if c == nil || !strings.HasPrefix(c.Value, "eyJ.") || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Fatalf("session cookie = %+v", c)
			}
			if !c.Expires.Equal(testNow.Add(testLifetime)) {
				t.Errorf("cookie expires %v, want the session's expiry %v", c.Expires, testNow.Add(testLifetime))
			}
			created := env.sessions.created()
			if len(created) != 1 || created[0] != tc.wantRequest {
				t.Errorf("Create calls = %+v, want [%+v]", created, tc.wantRequest)
			}
			if got := env.srv.Stats().Signins; got != 1 {
				t.Errorf("Signins = %d, want 1", got)
			}
		})
	}
}

func TestConnectStoreError(t *testing.T) {
	env := newTestEnv(t, Config{})
	env.sessions.err = errors.New("sqlite: database is locked")
	f := env.splash(t, testArrival)
	resp, body := env.post(t, accepted(f), f.cookie)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	if cookieNamed(resp, sessionCookie) != nil {
		t.Error("a failed sign-in set a session cookie")
	}
	if strings.Contains(body, "sqlite") || strings.Contains(body, "locked") {
		t.Error("the error page shows the internal error")
	}
	if h1 := parseHTML(t, body).find("h1"); len(h1) != 1 || h1[0].text != "Vorübergehend nicht verfügbar" {
		t.Errorf("h1 = %v", h1)
	}
	if st := env.srv.Stats(); st.StoreErrors != 1 || st.Signins != 0 {
		t.Errorf("Stats = %+v, want 1 store error and no sign-in", st)
	}
}

func TestConnectRefusesOtherBodies(t *testing.T) {
	env := newTestEnv(t, Config{})
	f := env.splash(t, "")
	t.Run("multipart", func(t *testing.T) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, vs := range accepted(f) {
			w.WriteField(k, vs[0])
		}
		w.Close()
		req := httptest.NewRequest(http.MethodPost, "/connect", &buf)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.AddCookie(&http.Cookie{Name: f.cookie.Name, Value: f.cookie.Value})
		resp, _ := env.do(t, req)
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("status %d, want 415", resp.StatusCode)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, _ := env.get(t, "/connect?"+accepted(f).Encode())
		if resp.StatusCode < 400 {
			t.Errorf("GET /connect: status %d, want an error", resp.StatusCode)
		}
	})
	if n := len(env.sessions.created()); n != 0 {
		t.Errorf("%d sessions created", n)
	}
}

func TestStatus(t *testing.T) {
	// In process the peer is 0.0.0.0: a trusted proxy in front says which
	// device asks, so that the status page knows it is the device's own
	// (it names the place only then; see TestStatusPlaceOnlyToTheDevice).
	env := newTestEnv(t, Config{TrustedProxies: []string{"0.0.0.0/32"}})
	const device = "10.1.0.20"
	f := env.splash(t, testArrival)
	signIn := httptest.NewRequest(http.MethodPost, "/connect", strings.NewReader(accepted(f).Encode()))
	signIn.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signIn.Header.Set("X-Forwarded-For", device)
	signIn.AddCookie(&http.Cookie{Name: f.cookie.Name, Value: f.cookie.Value})
	resp, _ := env.do(t, signIn)
	sc := cookieNamed(resp, sessionCookie)
	if sc == nil {
		t.Fatal("no session cookie")
	}
	cases := []struct {
		name       string
		cookie     *http.Cookie
		accept     string
		wantStatus int
		wantText   string
		wantClear  bool
	}{
		{name: "online", cookie: sc, wantStatus: 200, wantText: "Noch 23 Std. 59 Min. online"},
		{name: "online in English", cookie: sc, accept: "en", wantStatus: 200, wantText: "23 h 59 min left online"},
		{name: "no cookie", wantStatus: 302},
		{name: "bad cookie", cookie: &http.Cookie{Name: sessionCookie, Value: "forged"}, wantStatus: 302, wantClear: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/status", nil)
			req.Header.Set("X-Forwarded-For", device)
			if tc.cookie != nil {
				req.AddCookie(&http.Cookie{Name: tc.cookie.Name, Value: tc.cookie.Value})
			}
			if tc.accept != "" {
				req.Header.Set("Accept-Language", tc.accept)
			}
			resp, body := env.do(t, req)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 302 {
				if got := resp.Header.Get("Location"); got != "/" {
					t.Errorf("Location = %q, want /", got)
				}
			} else {
				doc := parseHTML(t, body)
				if got := doc.find("p"); !strings.Contains(doc.text, tc.wantText) || !strings.Contains(doc.text, "Bahnhof") {
					t.Errorf("status page lacks %q or the location: %v", tc.wantText, got)
				}
			}
			if c := cookieNamed(resp, sessionCookie); tc.wantClear != (c != nil && c.Value == "") {
				t.Errorf("session cookie in response = %+v, want cleared: %v", c, tc.wantClear)
			}
		})
	}
	t.Run("splash when online", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/"+testArrival, nil)
		req.AddCookie(&http.Cookie{Name: sc.Name, Value: sc.Value})
		_, body := env.do(t, req)
		doc := parseHTML(t, body)
		if h1 := doc.find("h1"); len(h1) != 1 || h1[0].text != "Sie sind online" {
			t.Errorf("h1 = %v, want the online heading", h1)
		}
		if len(doc.find("form")) != 0 {
			t.Error("online splash still shows the sign-in form")
		}
		var toStatus bool
		for _, a := range doc.find("a") {
			toStatus = toStatus || a.attr("href") == "/status"
		}
		if !toStatus {
			t.Error("online splash does not link to /status")
		}
	})
}

func TestJWKSAndHealth(t *testing.T) {
	env := newTestEnv(t, Config{})
	resp, body := env.get(t, "/.well-known/jwks.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var set session.JWKS
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0] != (fakeJWKS{}).JWKS().Keys[0] {
		t.Errorf("JWKS = %+v", set)
	}
	resp, body = env.get(t, "/healthz")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
}

func TestStatic(t *testing.T) {
	env := newTestEnv(t, Config{})
	v := assets.Version("style.css")
	cases := []struct {
		name, target, ifNoneMatch string
		wantStatus                int
		wantCache                 string
	}{
		{name: "current version", target: "/static/style.css?v=" + v, wantStatus: 200, wantCache: "public, max-age=31536000, immutable"},
		{name: "unversioned", target: "/static/style.css", wantStatus: 200, wantCache: "public, max-age=3600"},
		{name: "not modified", target: "/static/style.css?v=" + v, ifNoneMatch: `"` + v + `"`, wantStatus: 304, wantCache: "public, max-age=31536000, immutable"},
		{name: "missing", target: "/static/nope.css", wantStatus: 404},
		{name: "traversal", target: "/static/..%2Fi18n%2Fde.json", wantStatus: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := env.get(t, tc.target, "If-None-Match", tc.ifNoneMatch)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantCache != "" && resp.Header.Get("Cache-Control") != tc.wantCache {
				t.Errorf("Cache-Control = %q, want %q", resp.Header.Get("Cache-Control"), tc.wantCache)
			}
			if tc.wantStatus == 200 && (!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ":focus-visible")) {
				t.Errorf("Content-Type %q, body %.40q", resp.Header.Get("Content-Type"), body)
			}
		})
	}
	_, body := env.get(t, "/")
	var href string
	for _, l := range parseHTML(t, body).find("link") {
		href = l.attr("href")
	}
	if href != "/static/style.css?v="+v {
		t.Errorf("page links the style sheet as %q", href)
	}
}

func TestErrorPages(t *testing.T) {
	var logs bytes.Buffer
	env := newTestEnv(t, Config{})
	env.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	env.srv.App().Get("/test-panic", func(*fiber.Ctx) error { panic("boom: secret detail") })
	env.srv.App().Get("/test-error", func(*fiber.Ctx) error { return errors.New("db password wrong") })
	cases := []struct {
		target     string
		wantStatus int
		wantH1     string
	}{
		{"/nope", 404, "Seite nicht gefunden"},
		{"/test-panic", 500, "Interner Fehler"},
		{"/test-error", 500, "Interner Fehler"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			resp, body := env.get(t, tc.target)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			doc := parseHTML(t, body)
			if h1 := doc.find("h1"); len(h1) != 1 || h1[0].text != tc.wantH1 {
				t.Errorf("h1 = %v, want %q", h1, tc.wantH1)
			}
			for _, leak := range []string{"boom", "secret", "password", "goroutine", ".go:"} {
				if strings.Contains(body, leak) {
					t.Errorf("error page leaks %q", leak)
				}
			}
			if doc.find("html")[0].attr("lang") != "de" || resp.Header.Get("Content-Security-Policy") == "" {
				t.Error("error page is not a German page with security headers")
			}
		})
	}
	if !strings.Contains(logs.String(), "boom: secret detail") || !strings.Contains(logs.String(), "db password wrong") {
		t.Errorf("server errors were not logged:\n%s", logs.String())
	}
}

func TestSecurityHeaders(t *testing.T) {
	env := newTestEnv(t, Config{})
	for _, target := range []string{"/", "/status", "/healthz", "/.well-known/jwks.json", "/static/style.css", "/nope"} {
		t.Run(target, func(t *testing.T) {
			resp, _ := env.get(t, target)
			want := map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
				"X-Frame-Options":        "DENY",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q allows inline code", csp)
			}
			if s := resp.Header.Get("Server"); s != "" {
				t.Errorf("Server header %q", s)
			}
		})
	}
}

func TestTimeLeft(t *testing.T) {
	de, _ := assets.Messages("de")
	cases := []struct {
		d    string
		want string
	}{
		{"23h59m59s", "Noch 23 Std. 59 Min. online"},
		{"24h", "Noch 24 Std. 0 Min. online"},
		{"59m59s", "Noch 59 Min. online"},
		{"1m", "Noch 1 Min. online"},
		{"59s", "Noch weniger als eine Minute online"},
		{"0s", "Noch weniger als eine Minute online"},
	}
	for _, tc := range cases {
		t.Run(tc.d, func(t *testing.T) {
			if got := timeLeft(de, mustDuration(t, tc.d)); got != tc.want {
				t.Errorf("timeLeft(%s) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

// The real collaborators satisfy the portal's interfaces.
var (
	_ Sessions = (*session.Manager)(nil)
	_ JWKS     = (*session.KeyRing)(nil)
)

// TestStatusPlaceOnlyToTheDevice: the cookie proves that a browser holds the
// session, not that it is the device (issue 11 item 1): the status page and
// the online splash name the place only to a request from the device's
// address, and no page or API names more than where it is now.
func TestStatusPlaceOnlyToTheDevice(t *testing.T) {
	env := newTestEnv(t, Config{TrustedProxies: []string{"0.0.0.0/32"}})
	const device, elsewhere = "10.1.0.20", "10.1.0.99"
	f := env.splash(t, testArrival)
	signIn := httptest.NewRequest(http.MethodPost, "/connect", strings.NewReader(accepted(f).Encode()))
	signIn.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signIn.Header.Set("X-Forwarded-For", device)
	signIn.AddCookie(&http.Cookie{Name: f.cookie.Name, Value: f.cookie.Value})
	resp, _ := env.do(t, signIn)
	sc := cookieNamed(resp, sessionCookie)
	if sc == nil {
		t.Fatal("no session cookie")
	}
	for _, tc := range []struct {
		path, from string
		wantPlace  bool
	}{
		{"/status", device, true},
		{"/status", elsewhere, false},
		{"/" + testArrival, device, false}, // the online splash names no place
		{"/" + testArrival, elsewhere, false},
		{"/api/captive", device, false},
	} {
		t.Run(tc.path+" from "+tc.from, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("X-Forwarded-For", tc.from)
			req.AddCookie(&http.Cookie{Name: sc.Name, Value: sc.Value})
			resp, body := env.do(t, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if strings.Contains(body, "Bahnhof") != tc.wantPlace {
				t.Errorf("names the place: %v, want %v", strings.Contains(body, "Bahnhof"), tc.wantPlace)
			}
			if strings.Contains(strings.ToLower(body), "bahnhof") && !tc.wantPlace {
				t.Errorf("the location ID is in the answer: %s", body)
			}
		})
	}
}
