package portal

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// The citizen's journey in real headless Chromium: probe → splash → one
// tap → /status, against the real session manager and SQLite store, in all
// five languages (Arabic right to left), with an axe-core run on each page.
// With ROAMGATE_SCREENSHOTS=1 it saves 390×844 screenshots to
// docs/screenshots.

// chromium finds Debian's chromium; in CI its absence fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	return testtool.Need(t, "chromium", "chromium")
}

// axeSource is axe-core, which make test's tool step installs
// (tools/browser/install-axe.sh): a test installs nothing itself.
func axeSource(t *testing.T) string {
	t.Helper()
	file := filepath.Join("..", "tools", "browser", "node_modules", "axe-core", "axe.min.js")
	src, err := os.ReadFile(file)
	if err != nil {
		testtool.Missing(t, "axe-core is not installed (%v): run make tools, or tools/browser/install-axe.sh", err)
	}
	return string(src)
}

// realManager is a session.Manager on a SQLite store in a temporary directory.
func realManager(t testing.TB) *session.Manager {
	t.Helper()
	return sessiontest.NewManager(t)
}

type ringJWKS struct{}

func (ringJWKS) JWKS() session.JWKS { return session.JWKS{} }

func TestBrowserJourney(t *testing.T) {
	chromium(t)
	axe := axeSource(t)
	// The page the device wanted before the portal: another origin, so the
	// browser's form-action check on the redirect after the tap is real.
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>News</title><h1 id=\"landing\">Nachrichten</h1>")
	}))
	defer landing.Close()
	cases := []struct {
		name, lang, dir, h1, submit, status string
		continueTo                          string
	}{
		{"german", "de", "ltr", "Willkommen im WLAN am Bahnhof", "Nutzungsbedingungen akzeptieren und online gehen", "Sie sind online", ""},
		{"english", "en", "ltr", "Welcome to the Wi-Fi at Bahnhof", "Accept the terms of use and go online", "You are online", ""},
		{"turkish", "tr", "ltr", "Bahnhof Wi-Fi'sine hoş geldiniz", "Kullanım koşullarını kabul et ve bağlan", "Çevrimiçisiniz", ""},
		{"ukrainian", "uk", "ltr", "Ласкаво просимо до Wi-Fi: Bahnhof", "Прийняти умови користування й підключитися", "Ви в мережі", ""},
		{"arabic", "ar", "rtl", "مرحبًا بك في شبكة Wi-Fi في Bahnhof", "قبول شروط الاستخدام والاتصال بالإنترنت", "أنت متصل", ""},
		{"continue url", "en", "ltr", "Welcome to the Wi-Fi at Bahnhof", "Accept the terms of use and go online", "Nachrichten", landing.URL + "/news?a=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mgr := realManager(t)
			base := browserPortal(t, Config{}, Deps{
				Sessions: mgr, Locator: &fakeLocator{}, LocationNames: map[string]string{"bahnhof": "Bahnhof"},
			})
			ctx := newChromium(t, tc.lang)
			b := tab{t, ctx}
			run, str, attr := b.run, b.str, b.attr

			// The OS probe: a device without a session is sent to the splash,
			// its arrival parameters kept.
			probe := base + "/generate_204?client_mac=DA-A1-19-5E-00-01&ap_mac=00:11:22:33:44:55&nas_id=nas-bahnhof&ssid=WiFi4EU"
			if tc.continueTo != "" {
				probe += "&url=" + url.QueryEscape(tc.continueTo)
			}
			shot := func() []byte {
				t.Helper()
				b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			run(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
			run(chromedp.Navigate(probe))
			run(chromedp.WaitVisible(chromedp.CSS(`button[name="accept"]`)))
			location := str(chromedp.Location())
			if !strings.HasPrefix(location, base+"/?") || !strings.Contains(location, "client_mac=") {
				t.Errorf("probe led to %q, want the splash with the arrival", location)
			}
			dir, lang, h1 := attr("html", "dir"), attr("html", "lang"), str(chromedp.Text(chromedp.CSS("h1")))
			if dir != tc.dir || lang != tc.lang || h1 != tc.h1 {
				t.Errorf("splash: dir=%q lang=%q h1=%q, want %q %q %q", dir, lang, h1, tc.dir, tc.lang, tc.h1)
			}
			splashShot := shot()
			assertAxe(t, ctx, axe, "splash")

			// One tap: the button, which names the terms shown above it, is
			// the acceptance; there is nothing else to tick.
			if button := str(chromedp.Text(chromedp.CSS(`button[name="accept"]`))); button != tc.submit {
				t.Errorf("button %q, want %q", button, tc.submit)
			}
			inputs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form input:not([type=hidden]), form select, form textarea").length`))
			if err != nil || inputs != 0 {
				t.Errorf("the form has %d controls to fill besides the button (%v); want none", inputs, err)
			}
			above, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(document.querySelector("#terms-heading").compareDocumentPosition(document.querySelector('button[name="accept"]')) & Node.DOCUMENT_POSITION_FOLLOWING)`))
			if err != nil || !above {
				t.Errorf("the terms are not above the button (%v)", err)
			}
			run(chromedp.Click(chromedp.CSS(`button[name="accept"]`)))
			if tc.continueTo != "" {
				run(chromedp.WaitVisible(chromedp.CSS(`#landing`)))
				location, h1 := str(chromedp.Location()), str(chromedp.Text(chromedp.CSS("h1")))
				if location != tc.continueTo || h1 != tc.status {
					t.Errorf("after the tap: %q (h1 %q), want the continue URL %q", location, h1, tc.continueTo)
				}
				return
			}
			run(chromedp.WaitVisible(chromedp.CSS(`.time-left`)))
			location = str(chromedp.Location())
			statusH1, timeLeft := str(chromedp.Text(chromedp.CSS("h1"))), str(chromedp.Text(chromedp.CSS(".time-left")))
			if !strings.HasPrefix(location, base+"/status") || statusH1 != tc.status || timeLeft == "" {
				t.Errorf("after the tap: %q, h1 %q, time left %q", location, statusH1, timeLeft)
			}
			statusShot := shot()
			assertAxe(t, ctx, axe, "status")

			mac, _ := session.ParseMAC("da:a1:19:5e:00:01")
			s, err := mgr.ByMAC(mac)
			if err != nil || s.Location != "bahnhof" || !s.RandomMAC {
				t.Errorf("session after sign-in: %+v, %v", s, err)
			}
			// The probe again, now online: what Android expects. (A 204
			// aborts a navigation, so the page fetches it.)
			code, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/generate_204").then(r => r.status)`, chromedp.EvalAwaitPromise))
			if err != nil || code != 204 {
				t.Errorf("probe while online: %d, %v; want 204", code, err)
			}
			// Screenshots are written on request only (make screenshots-portal),
			// so that a test run leaves the tree as it was.
			if os.Getenv("ROAMGATE_SCREENSHOTS") != "1" || (tc.lang != "de" && tc.lang != "ar") {
				return // German, and Arabic for right to left
			}
			for name, shot := range map[string][]byte{"splash": splashShot, "status": statusShot} {
				file := filepath.Join("..", "docs", "screenshots", name+"-"+tc.lang+".png")
				if err := os.WriteFile(file, shot, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// assertAxe runs axe-core in the page and fails on serious or critical
// violations.
func assertAxe(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	script := axe + `;axe.run(document,{resultTypes:["violations"]}).then(r=>JSON.stringify(r.violations.map(v=>({id:v.id,impact:v.impact,help:v.help,nodes:v.nodes.length}))))`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", page, err)
	}
	var vs []struct {
		ID, Impact, Help string
		Nodes            int
	}
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("axe result %q: %v", raw, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe on %s: %s violation %s (%s), %d nodes", page, v.Impact, v.ID, v.Help, v.Nodes)
		} else {
			t.Logf("axe on %s: %s %s (%s)", page, v.Impact, v.ID, v.Help)
		}
	}
}

// newChromium starts headless Chromium with the project's flags, a fresh
// profile and lang as its Accept-Language (none when empty), plus the
// test's own flags, for as long as the test runs. Start it after the
// portal: its cleanup then closes the browser before the server.
func newChromium(t *testing.T, lang string, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir()), chromedp.Env(testtool.BrowserTempDir(t)),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true), chromedp.WindowSize(390, 844),
	}
	if lang != "" {
		opts = append(opts, chromedp.Flag("accept-lang", lang))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), append(opts, flags...)...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

// tab drives a Chromium tab for a test; each call fails the test on an
// error.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for _, a := range actions {
		if err := chromedp.Do(b.ctx, a); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b tab) str(a chromedp.Action[string]) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b tab) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatal(err)
	}
	return v.Value
}

// browserPortal serves a portal for a browser test on a free loopback port
// with cfg and deps, to which it adds what every browser test gives (the
// JWKS, the site's name, a discarded log), and returns its base URL.
func browserPortal(t *testing.T, cfg Config, deps Deps) string {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	deps.JWKS, deps.SiteName = ringJWKS{}, "Stadt Musterstadt"
	deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv}
	return env.serve(t)
}

// TestBrowserVendorStep: a Cisco WLC arrival in Chromium. One tap signs in;
// the step page posts the UAM credentials to the WLC's login URL by itself
// (step.js, allowed by the page's CSP), and the WLC receives the session's
// ID and UAM secret.
func TestBrowserVendorStep(t *testing.T) {
	chromium(t)
	got := make(chan url.Values, 1)
	wlc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/login.html" {
			r.ParseForm()
			select {
			case got <- r.PostForm:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>WLC</title><h1 id="wlc-ok">Login successful</h1>`)
	}))
	defer wlc.Close()

	mgr := realManager(t)
	base := browserPortal(t, Config{}, Deps{Sessions: mgr, APNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	splash := base + "/?switch_url=" + url.QueryEscape(wlc.URL+"/login.html") +
		"&ap_mac=00:11:22:33:44:55&client_mac=DA-A1-19-5E-00-07&wlan=WiFi4EU&redirect=www.example.org/"
	tab{t, newChromium(t, "de")}.run(
		chromedp.Navigate(splash),
		chromedp.Click(chromedp.CSS(`button[name="accept"]`)), // one tap
		chromedp.WaitVisible(chromedp.CSS(`#wlc-ok`)),
	)
	var form url.Values
	select {
	case form = <-got:
	default:
		t.Fatal("the WLC received no login")
	}
	mac, _ := session.ParseMAC("da:a1:19:5e:00:07")
	s, err := mgr.ByMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("username") != s.ID || form.Get("password") != mgr.UAMSecret(s.ID) ||
		form.Get("buttonClicked") != "4" || form.Get("redirect_url") != "http://www.example.org/" {
		t.Errorf("WLC login %v, want the session %s and its UAM secret", form, s.ID)
	}
}
