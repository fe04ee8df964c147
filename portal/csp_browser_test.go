package portal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserStepRedirectCSP: Meraki sign-on in Chromium. The step page
// posts the UAM credentials to the access point's login URL, which — like
// Meraki's splash/login, Cisco's login.html and Aruba's cgi-bin/login —
// answers with a redirect to the continue URL (success_url) on another
// origin. Chromium checks the step page's form-action on every hop of that
// redirect chain, so the policy must allow the continue URL's origin too,
// or the device is authorised while the browser is stuck on /connect.
func TestBrowserStepRedirectCSP(t *testing.T) {
	chromium(t)
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>News</title><h1 id="landing">Nachrichten</h1>`)
	}))
	defer landing.Close()
	continueURL := landing.URL + "/news?a=1"

	// The access point's login endpoint, on another loopback origin:
	// it takes the credentials and sends the browser to success_url, as
	// Meraki's sign-on splash does after its RADIUS Access-Accept.
	logins := make(chan url.Values, 1)
	ap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/splash/login" || r.ParseForm() != nil {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		select {
		case logins <- r.PostForm:
		default:
		}
		http.Redirect(w, r, r.PostForm.Get("success_url"), http.StatusFound)
	}))
	defer ap.Close()

	mgr := realManager(t)
	base := browserPortal(t, Config{}, Deps{Sessions: mgr, APNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	ctx := newChromium(t, "de")

	splash := base + "/?login_url=" + url.QueryEscape(ap.URL+"/splash/login?mauth=MMa9xPqgz8") +
		"&continue_url=" + url.QueryEscape(continueURL) + "&ap_mac=00:18:0a:12:34:56&client_mac=DA-A1-19-5E-00-61&client_ip=10.110.154.195"
	tab{t, ctx}.run(
		chromedp.Navigate(splash),
		chromedp.Click(chromedp.CSS(`button[name="accept"]`)),
	)
	var login url.Values
	select {
	case login = <-logins:
	case <-time.After(20 * time.Second):
		t.Fatal("the access point received no login")
	}
	if login.Get("success_url") != continueURL || login.Get("username") == "" || login.Get("password") == "" {
		t.Errorf("login %v", login)
	}
	// The redirect to the continue URL must complete: wait for the landing
	// page, with a deadline well inside the test's.
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#landing`))); err != nil {
		location, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("the browser did not reach the continue URL after the access point's redirect (%v); it is at %s", err, location)
	}
	if location, err := chromedp.Run(ctx, chromedp.Location()); err != nil || location != continueURL {
		t.Errorf("location %q, %v; want %s", location, err, continueURL)
	}
}
