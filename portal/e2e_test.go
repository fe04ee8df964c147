package portal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// serve starts env's server on a free loopback port and stops it when the
// test ends, checking that Serve returns cleanly.
func (env *testEnv) serve(t testing.TB) string {
	t.Helper()
	if err := env.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return "http://" + env.srv.Addr().String()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func fetch(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func newRequest(t *testing.T, method, target string, form url.Values) *http.Request {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// formValues collects what a browser submits for the splash form when the
// citizen ticks the box and presses the button.
func formValues(t *testing.T, body string) url.Values {
	t.Helper()
	doc := parseHTML(t, body)
	v := url.Values{}
	for _, in := range doc.find("input") {
		switch in.attr("type") {
		case "hidden":
			v.Set(in.attr("name"), in.attr("value"))
		case "checkbox":
			v.Set(in.attr("name"), in.attr("value")) // ticked
		}
	}
	button := doc.input(t, "accept")
	v.Set(button.attr("name"), button.attr("value"))
	return v
}

func TestSignInOverHTTP(t *testing.T) {
	env := newTestEnv(t, Config{})
	base := env.serve(t)
	c := browser(t)

	resp, body := fetch(t, c, newRequest(t, "GET", base+"/"+testArrival, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	resp, _ = fetch(t, c, newRequest(t, "POST", base+"/connect", formValues(t, body)))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /connect: %d, want 303", resp.StatusCode)
	}
	if got := resp.Header.Get("Location"); got != "https://example.org/news?a=1" {
		t.Errorf("Location = %q, want the continue URL", got)
	}
	var raw string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, sessionCookie+"=") {
			raw = h
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "path=/", "expires="} {
		if !strings.Contains(strings.ToLower(raw), strings.ToLower(attr)) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	if strings.Contains(strings.ToLower(raw), "secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP", raw)
	}
	if got := env.locator.lastIP(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Locator saw %v, want the client 127.0.0.1", got)
	}

	resp, body = fetch(t, c, newRequest(t, "GET", base+"/status", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %d", resp.StatusCode)
	}
	doc := parseHTML(t, body)
	for _, want := range []string{"Noch 23 Std. 59 Min. online", "Bahnhof"} {
		if !strings.Contains(doc.text, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	_, body = fetch(t, c, newRequest(t, "GET", base+"/", nil))
	if !strings.Contains(parseHTML(t, body).text, "Sie sind online") {
		t.Error("splash does not say the device is online")
	}
	if st := env.srv.Stats(); st.Signins != 1 || st.CSRFFailures != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestTrustedProxy(t *testing.T) {
	cases := []struct {
		name       string
		proxies    []string
		xff, proto string
		wantIP     string
		wantSecure bool
	}{
		{name: "no proxy configured: headers ignored", xff: "203.0.113.7", proto: "https", wantIP: "127.0.0.1"},
		{name: "untrusted proxy: headers ignored", proxies: []string{"10.0.0.0/8"}, xff: "203.0.113.7", proto: "https", wantIP: "127.0.0.1"},
		{name: "trusted proxy", proxies: []string{"127.0.0.0/8"}, xff: "203.0.113.7", proto: "https", wantIP: "203.0.113.7", wantSecure: true},
		{name: "trusted proxy, spoofed left part", proxies: []string{"127.0.0.1"}, xff: "198.51.100.1, 203.0.113.7", proto: "http", wantIP: "203.0.113.7"},
		{name: "trusted proxy chain", proxies: []string{"127.0.0.1", "10.0.0.0/8"}, xff: "203.0.113.7, 10.1.2.3", proto: "https", wantIP: "203.0.113.7", wantSecure: true},
		{name: "trusted proxy, garbage header", proxies: []string{"127.0.0.1"}, xff: "not-an-ip", wantIP: "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{TrustedProxies: tc.proxies})
			base := env.serve(t)
			c := browser(t)
			get := newRequest(t, "GET", base+"/?nas_id=nas-bahnhof", nil)
			post := func(v url.Values) *http.Request {
				req := newRequest(t, "POST", base+"/connect", v)
				req.Header.Set("X-Forwarded-For", tc.xff)
				if tc.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tc.proto)
					// Over HTTPS fiber's CSRF check wants a same-origin Referer,
					// which browsers send under Referrer-Policy same-origin.
					req.Header.Set("Referer", tc.proto+"://"+req.Host+"/")
				}
				return req
			}
			_, body := fetch(t, c, get)
			resp, _ := fetch(t, c, post(formValues(t, body)))
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST /connect: %d", resp.StatusCode)
			}
			var sc *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == sessionCookie {
					sc = ck
				}
			}
			if sc == nil || sc.Secure != tc.wantSecure {
				t.Errorf("session cookie %+v, want Secure=%v", sc, tc.wantSecure)
			}
			if got := env.locator.lastIP(); got != netip.MustParseAddr(tc.wantIP) {
				t.Errorf("client IP = %v, want %s", got, tc.wantIP)
			}
		})
	}
}

func TestOversizedRequests(t *testing.T) {
	env := newTestEnv(t, Config{})
	base := env.serve(t)
	c := browser(t)
	_, body := fetch(t, c, newRequest(t, "GET", base+"/", nil))
	v := formValues(t, body)
	v.Set("pad", strings.Repeat("x", bodyLimit))
	resp, body := fetch(t, c, newRequest(t, "POST", base+"/connect", v))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "Anfrage zu groß") {
		t.Errorf("oversized body: %d, want 413 with the error page", resp.StatusCode)
	}
	resp, body = fetch(t, c, newRequest(t, "GET", base+"/?ssid="+strings.Repeat("x", 2*readBufferSize), nil))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(body, `<html lang="de" dir="ltr">`) ||
		resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("oversized request line: %d, want 431 with the error page and security headers", resp.StatusCode)
	}
	if n := len(env.sessions.created()); n != 0 {
		t.Errorf("%d sessions created", n)
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Run("serve until cancelled", func(t *testing.T) {
		env := newTestEnv(t, Config{})
		if env.srv.Addr() != nil {
			t.Fatal("Addr before Listen is not nil")
		}
		base := env.serve(t) // Cleanup cancels and checks Serve returns nil
		resp, body := fetch(t, browser(t), newRequest(t, "GET", base+"/healthz", nil))
		if resp.StatusCode != 200 || body != "ok" {
			t.Errorf("healthz: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		env := newTestEnv(t, Config{})
		if err := env.srv.Listen(); err != nil {
			t.Fatal(err)
		}
		addr := env.srv.Addr().String()
		done := make(chan error, 1)
		go func() { done <- env.srv.Serve(context.Background()) }()
		c := browser(t)
		if resp, _ := fetch(t, c, newRequest(t, "GET", "http://"+addr+"/healthz", nil)); resp.StatusCode != 200 {
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
		if err := env.srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown returned %v, want ErrServerClosed", err)
		}
		if err := env.srv.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		if err := env.srv.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
		}
		if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
			t.Error("server still answers after Shutdown")
		}
	})
	t.Run("address in use", func(t *testing.T) {
		first := newTestEnv(t, Config{})
		if err := first.srv.Listen(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { first.srv.Shutdown(context.Background()) })
		second := newTestEnv(t, Config{Listen: first.srv.Addr().String()})
		if err := second.srv.Serve(context.Background()); err == nil {
			t.Error("Serve on a used address succeeded")
		}
	})
}
