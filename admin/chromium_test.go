package admin

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roamgate/internal/testtool"
)

// TestChromiumDashboard is the acceptance walk in a real headless Chromium:
// sign in, read the scenario's counts off the dashboard, revoke the roaming
// session on the sessions page, see the counts change, and watch the open
// dashboard update itself over Server-Sent Events when another session
// ends. Screenshots (1280×800) go to a temporary directory, and to
// docs/screenshots/ when ROAMGATE_SCREENSHOTS=1 (make screenshots).
func TestChromiumDashboard(t *testing.T) {
	sc := newScenario(t)
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	base := "http://" + s.Addr().String()
	ctx := newBrowser(t, "de-DE")

	shots := t.TempDir()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			img, err := png.DecodeConfig(bytes.NewReader(buf))
			if err != nil {
				return err
			}
			if img.Width != 1280 || img.Height != 800 {
				t.Errorf("screenshot %s is %d×%d, want 1280×800", name, img.Width, img.Height)
			}
			if err := os.WriteFile(filepath.Join(shots, name), buf, 0o644); err != nil {
				return err
			}
			if os.Getenv("ROAMGATE_SCREENSHOTS") == "1" {
				return os.WriteFile(filepath.Join("..", "docs", "screenshots", name), buf, 0o644)
			}
			return nil
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// Sign in.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/login?lang=de"), // the town's language
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "ops"),
		chromedp.SendKeys(chromedp.CSS("#password"), opsPassword),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#total")),
	); err != nil {
		t.Fatal(err)
	}
	if got := text("#total"); got != "8" {
		t.Fatalf("dashboard total = %q, want 8", got)
	}
	byLoc := text("#by-location")
	for _, want := range []string{"Bahnhof\t4", "Stadtpark\t4", "Rathaus\t0"} {
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(byLoc, "\t", " ")), " "), strings.ReplaceAll(want, "\t", " ")) {
			t.Errorf("by location %q lacks %q", byLoc, want)
		}
	}
	if got := text("#by-network"); !strings.Contains(got, "wifi4eu") || !strings.Contains(got, "5") {
		t.Errorf("by network = %q", got)
	}
	if got := text("#map"); !strings.Contains(got, "Bahnhof (4)") || !strings.Contains(got, "Rathaus (0)") {
		t.Errorf("map = %q", got)
	}
	if err := chromedp.Do(ctx, shot("admin-dashboard.png")); err != nil {
		t.Fatal(err)
	}

	// Revoke the roaming session on the sessions page.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/sessions?location=stadtpark"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+sc.roamer+`"] button`)),
		shot("admin-sessions.png"),
		chromedp.Click(chromedp.CSS(`tr[data-session="`+sc.roamer+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#message")),
	); err != nil {
		t.Fatal(err)
	}
	if msg := text("#message"); !strings.Contains(msg, sc.roamer) || !strings.Contains(msg, "ACK") {
		t.Fatalf("revoke message = %q", msg)
	}
	if got := text("#count"); got != "3" {
		t.Fatalf("Stadtpark sessions after revoke = %q, want 3", got)
	}

	// The dashboard shows the change, and follows the next one live.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#total")),
	); err != nil {
		t.Fatal(err)
	}
	if got := text("#total"); got != "7" {
		t.Fatalf("dashboard total after revoke = %q, want 7", got)
	}
	if err := sc.mgr.Revoke(context.Background(), sc.ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("total").textContent === "6"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the open dashboard did not follow the revocation over SSE: %v (total %q)", err, text("#total"))
	}
	if err := chromedp.Do(ctx, shot("admin-dashboard-live.png")); err != nil {
		t.Fatal(err)
	}
}

// newBrowser starts a headless Chromium whose Accept-Language is lang and
// returns a context for it with a 90-second deadline.
func newBrowser(t *testing.T, lang string) context.Context {
	t.Helper()
	chromium := needTool(t, "chromium", "chromium")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang), // the Accept-Language header
		chromedp.WindowSize(1280, 800),
		chromedp.Env(testtool.BrowserTempDir(t)),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser; it must not carry the deadline,
	// which would stop the browser with it.
	if err := chromedp.Do(browser); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestChromiumArabic: a browser asking for Arabic gets the admin right to
// left — the document's direction is rtl, the header runs from the right
// (the title right of the language switch), table cells start on the right
// — and one click on the language switch turns the page German and left
// to right.
func TestChromiumArabic(t *testing.T) {
	sc := newScenario(t)
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	base := "http://" + s.Addr().String()
	ctx := newBrowser(t, "ar")

	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "viewer"),
		chromedp.SendKeys(chromedp.CSS("#password"), viewerPassword),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#total")),
	); err != nil {
		t.Fatal(err)
	}
	dir, lang := eval[string](t, ctx, `getComputedStyle(document.body).direction`), eval[string](t, ctx, `document.documentElement.lang`)
	heading := eval[string](t, ctx, `document.querySelector(".total h1").textContent`)
	if dir != "rtl" || lang != "ar" || !strings.Contains(heading, "المتصلون الآن") {
		t.Fatalf("Arabic dashboard: direction %q, lang %q, heading %q", dir, lang, heading)
	}
	brandX := eval[float64](t, ctx, `document.querySelector(".brand").getBoundingClientRect().left`)
	langsX := eval[float64](t, ctx, `document.querySelector("nav.langs").getBoundingClientRect().left`)
	if brandX <= langsX {
		t.Errorf("title at x=%.0f, language switch at x=%.0f: the header does not run from the right", brandX, langsX)
	}
	cell := eval[float64](t, ctx, `(function(){var td=document.querySelector("#by-location td"), r=document.createRange(); r.selectNodeContents(td); return td.getBoundingClientRect().right - r.getBoundingClientRect().right})()`)
	if cell > 12 {
		t.Errorf("a location name ends %.0f px left of its cell's right edge: not aligned to the start of a right-to-left row", cell)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#lang-de")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #total`)),
	); err != nil {
		t.Fatal(err)
	}
	dir, heading = eval[string](t, ctx, `getComputedStyle(document.body).direction`), eval[string](t, ctx, `document.querySelector(".total h1").textContent`)
	if dir != "ltr" || !strings.Contains(heading, "Jetzt online") {
		t.Fatalf("after the switch to German: direction %q, heading %q", dir, heading)
	}
	// The choice sticks: the sessions page comes in German too, although
	// the browser still asks for Arabic.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/sessions"),
		chromedp.WaitVisible(chromedp.CSS("#count")),
	); err != nil {
		t.Fatal(err)
	}
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "de" {
		t.Errorf("sessions page after the switch: lang %q, want de", lang)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}
