package portal

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"roamgate/session"
)

// signOut posts the status page's sign-out with the cookies a browser has.
func (env *testEnv) signOut(t *testing.T, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	// The status page's form, or the splash's CSRF token without a session.
	req := httptest.NewRequest(http.MethodGet, "/status", nil)
	if cookies[0].Name != sessionCookie {
		req = httptest.NewRequest(http.MethodGet, "/", nil)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, body := env.do(t, req)
	token := parseHTML(t, body).input(t, csrfField).attr("value")
	post := httptest.NewRequest(http.MethodPost, "/status/disconnect", strings.NewReader(url.Values{csrfField: {token}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		post.AddCookie(c)
	}
	post.AddCookie(cookieNamed(resp, csrfCookie))
	return env.do(t, post)
}

// TestSignOutAtTheAccessPoint: a device that signed in at a CoovaChilli is
// sent, on sign-out, to chilli's own /logoff at the uamip:uamport it came
// through (chilli src/redir.c:2240-2241), so chilli takes it offline at once;
// the address comes back from the browser and is checked again.
func TestSignOutAtTheAccessPoint(t *testing.T) {
	env := newTestEnvWith(t, Config{}, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}
	})
	f := env.splash(t, "?res=notyet&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090&mac=DA-A1-19-5E-00-01&nasid=nas-bahnhof&userurl=http%3A%2F%2Fexample.org%2F")
	resp, _ := env.post(t, accepted(f), f.cookie)
	session, logoff := cookieNamed(resp, sessionCookie), cookieNamed(resp, logoffCookie)
	if logoff == nil || logoff.Value != "http://10.1.0.1:3990/logoff" || logoff.Path != "/status" || !logoff.HttpOnly {
		t.Fatalf("logoff cookie %+v, want chilli's /logoff, HttpOnly, for /status", logoff)
	}

	t.Run("the status page allows the hop", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/status", nil)
		req.AddCookie(session)
		req.AddCookie(logoff)
		resp, _ := env.do(t, req)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://10.1.0.1:3990") {
			t.Errorf("CSP %q does not let the sign-out redirect to chilli", csp)
		}
	})

	t.Run("a forged address is not followed", func(t *testing.T) {
		for _, bad := range []string{"http://evil.example/logoff", "http://10.1.0.1:3990/logon?x=1", "http://10.9.0.1/logoff", "javascript:alert(1)"} {
			resp, body := env.signOut(t, &http.Cookie{Name: logoffCookie, Value: bad})
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Abgemeldet") {
				t.Errorf("logoff cookie %q: %d to %q", bad, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	resp, _ = env.signOut(t, session, logoff)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://10.1.0.1:3990/logoff" {
		t.Fatalf("sign-out: %d to %q, want chilli's /logoff", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := cookieNamed(resp, logoffCookie); c == nil || c.Value != "" {
		t.Errorf("the logoff cookie is kept after sign-out: %+v", c)
	}
	if _, err := env.sessions.FromToken(session.Value); err == nil {
		t.Error("session still live after sign-out")
	}

	t.Run("a generic arrival has no logoff", func(t *testing.T) {
		f := env.splash(t, testArrival)
		resp, _ := env.post(t, accepted(f), f.cookie)
		if c := cookieNamed(resp, logoffCookie); c != nil {
			t.Errorf("logoff cookie %+v for an access point without one", c)
		}
	})
}

// TestBrowserSignOutAtChilli: the same in Chromium, against a stand-in for
// chilli's UAM web server (/logon answers with chilli's res=success
// redirect, /logoff is recorded): the sign-out form's redirect reaches
// /logoff — the status page's CSP lets the browser follow it.
func TestBrowserSignOutAtChilli(t *testing.T) {
	chromium(t)
	var mu sync.Mutex
	var paths []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var portalBase string
	chilli := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/logon":
			// chilli logs the device on and sends it back to the portal.
			http.Redirect(w, r, portalBase+"/?res=success&uamip=127.0.0.1&uamport="+url.QueryEscape(strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:"))+
				"&mac=DA-A1-19-5E-00-08&userurl="+url.QueryEscape("http://"+ln.Addr().String()+"/welcome"), http.StatusFound)
		case "/logoff":
			io.WriteString(w, `<!doctype html><title>chilli</title><h1 id="chilli-logoff">logged off</h1>`)
		default:
			io.WriteString(w, `<!doctype html><title>internet</title><h1 id="internet">welcome</h1>`)
		}
	}))
	chilli.Listener.Close()
	chilli.Listener = ln
	chilli.Start()
	defer chilli.Close()

	mgr := realManager(t)
	portalBase = browserPortal(t, Config{}, Deps{Sessions: mgr, APNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	ctx := newChromium(t, "de")
	splash := portalBase + "/?res=notyet&uamip=127.0.0.1&uamport=" + url.QueryEscape(strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")) +
		"&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090&mac=DA-A1-19-5E-00-08&nasid=nas-bahnhof&userurl=" + url.QueryEscape("http://"+ln.Addr().String()+"/welcome")
	for _, a := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(splash),
		chromedp.Click(chromedp.CSS(`button[name="accept"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#internet`)),
		chromedp.Navigate(portalBase + "/status"),
		chromedp.Click(chromedp.CSS(`form[action="/status/disconnect"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#chilli-logoff`)),
	} {
		if err := chromedp.Do(ctx, a); err != nil {
			mu.Lock()
			t.Fatalf("%v (chilli saw %v)", err, paths)
		}
	}
	mac, _ := session.ParseMAC("da:a1:19:5e:00:08")
	if _, err := mgr.ByMAC(mac); err == nil {
		t.Error("session still live after sign-out")
	}
}
