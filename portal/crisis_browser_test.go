package portal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roamgate/session"
)

// TestBrowserCrisisSplash: during a crisis, the splash in real Chromium
// shows the notice with its links, has no terms checkbox, and one tap signs
// in; /status carries the notice too. With ROAMGATE_SCREENSHOTS=1 it saves
// docs/screenshots/crisis-splash-de.png.
func TestBrowserCrisisSplash(t *testing.T) {
	axe := axeSource(t)
	mgr := realManager(t)
	const msg = "Hochwasser an der Ruhr: Bitte meiden Sie das Ufer. Notunterkunft in der Stadthalle, Marktplatz 1."
	_, err := mgr.SetCrisis(context.Background(), session.Crisis{Active: true, By: "leitstelle",
		Until:   time.Now().Add(12 * time.Hour),
		Message: map[string]string{"de": msg, "en": "Flood on the Ruhr: keep away from the river bank. Shelter at the town hall."},
		Links: []session.CrisisLink{
			{Title: "NINA Warn-App", URL: "https://warnung.bund.de/"},
			{Title: "Notunterkünfte und Sandsäcke", URL: "https://stadt.example/notunterkunft"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	base := browserPortal(t, Config{}, Deps{
		Sessions: mgr, Locator: &fakeLocator{}, Crisis: mgr, LocationNames: map[string]string{"bahnhof": "Bahnhof"},
	})
	ctx := newChromium(t, "de")
	b := tab{t, ctx}
	run, str := b.run, b.str
	run(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	run(chromedp.Navigate(base + "/?client_mac=DA-A1-19-C1-00-01&nas_id=nas-bahnhof&ssid=WiFi4EU"))
	run(chromedp.WaitVisible(chromedp.CSS(`.crisis`)))
	banner := str(chromedp.Text(chromedp.CSS(".crisis")))
	for _, want := range []string{"Krisenfall", msg, "NINA Warn-App", "Notunterkünfte und Sandsäcke"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner %q lacks %q", banner, want)
		}
	}
	terms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#terms").length`))
	if err != nil || terms != 0 {
		t.Errorf("terms checkboxes on the crisis splash: %d, %v; want none", terms, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	assertAxe(t, ctx, axe, "crisis splash")

	run(chromedp.Click(chromedp.CSS(`button[name="accept"]`)))
	run(chromedp.WaitVisible(chromedp.CSS(`.time-left`)))
	if status := str(chromedp.Text(chromedp.CSS(".crisis"))); !strings.Contains(status, msg) {
		t.Errorf("/status banner %q lacks the message", status)
	}
	mac, _ := session.ParseMAC("da:a1:19:c1:00:01")
	if s, err := mgr.ByMAC(mac); err != nil || !s.Crisis {
		t.Errorf("session after one tap in a crisis: %+v, %v; want a crisis session", s, err)
	}
	if os.Getenv("ROAMGATE_SCREENSHOTS") != "1" {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", "crisis-splash-de.png"), shot, 0o644); err != nil {
		t.Error(err)
	}
}
