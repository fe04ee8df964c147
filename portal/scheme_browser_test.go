package portal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserHTTPSPortalHTTPHotspot: the portal behind an HTTPS reverse
// proxy (deploy/reverse-proxy.md) and a MikroTik hotspot that offers only
// http login. A form on the https step page posting to http:// would stop
// at Chromium's full-page insecure-form warning
// (components/security_interstitials/content/insecure_form_navigation_throttle.cc:
// a form submission from a secure page to an insecure URL is cancelled with
// the interstitial; a redirect other than 307/308 of a form submission is
// let through). So the login reaches the hotspot as the 303 after POST
// /connect, and the hotspot sees the credentials.
//
// The hotspot is named hotspot.test (mapped to 127.0.0.1 by
// --host-resolver-rules): an http URL on 127.0.0.1 itself counts as
// potentially trustworthy and would not show the warning.
func TestBrowserHTTPSPortalHTTPHotspot(t *testing.T) {
	chromium(t)
	logins := make(chan url.Values, 1)
	hotspot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" && r.ParseForm() == nil && r.Form.Get("username") != "" {
			select {
			case logins <- r.Form:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>hotspot</title><h1 id="hotspot">You are logged in</h1>`)
	}))
	defer hotspot.Close()
	_, port, _ := netSplit(hotspot.URL)

	mgr := realManager(t)
	target, _ := url.Parse(browserPortal(t, Config{TrustedProxies: []string{"127.0.0.1"}, LoginHosts: []string{"hotspot.test"}},
		Deps{Sessions: mgr, APNetworks: []netip.Prefix{netip.MustParsePrefix("10.5.50.0/24")}}))
	proxy := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.SetXForwarded() // X-Forwarded-Proto: https
		r.Out.Host = r.In.Host
	}})
	defer proxy.Close()

	ctx := newChromium(t, "",
		chromedp.Flag("ignore-certificate-errors", true), // the proxy's test certificate
		chromedp.Flag("host-resolver-rules", "MAP hotspot.test 127.0.0.1"),
	)

	splash := proxy.URL + "/?link-login-only=" + url.QueryEscape("http://hotspot.test:"+port+"/login") +
		"&mac=DA%3AA1%3A19%3A5E%3A00%3A71&chap-id=%5C357&chap-challenge=%5C052%5C211%5C315&link-orig=" + url.QueryEscape("http://example.org/")
	tab{t, ctx}.run(
		chromedp.Navigate(splash),
		chromedp.Click(chromedp.CSS(`button[name="accept"]`)),
	)
	select {
	case form := <-logins:
		if len(form.Get("password")) != 32 || form.Get("dst") != "http://example.org/" {
			t.Errorf("hotspot login %v", form)
		}
	case <-time.After(20 * time.Second):
		location, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("the hotspot received no login; the browser is at %s", location)
	}
	wctx, cancelW := context.WithTimeout(ctx, 15*time.Second)
	defer cancelW()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#hotspot`))); err != nil {
		t.Errorf("the hotspot's answer is not shown: %v", err)
	}
}

func netSplit(raw string) (host, port string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	return u.Hostname(), u.Port(), nil
}
