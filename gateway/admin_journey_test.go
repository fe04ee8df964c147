package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	layeh "layeh.com/radius"

	"roamgate/internal/testtool"
)

// testNAS is an access point's RFC 5176 server: it answers every
// Disconnect-Request it can authenticate with Disconnect-ACK and reports it.
func testNAS(t *testing.T, secret string) (port int, got <-chan *layeh.Packet) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan *layeh.Packet, 8)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := layeh.Parse(buf[:n], []byte(secret))
			if err != nil || p.Code != layeh.CodeDisconnectRequest {
				continue
			}
			if !layeh.IsAuthenticRequest(buf[:n], []byte(secret)) {
				continue
			}
			reply, err := p.Response(layeh.CodeDisconnectACK).Encode()
			if err != nil {
				continue
			}
			conn.WriteTo(reply, from)
			ch <- p
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).Port, ch
}

var classAttr = regexp.MustCompile(`Class = 0x([0-9a-f]+)`)

// TestAdminSeesTheTown is issue 6's journey through the real parts: eight
// sign-ins through the portal (five at the Bahnhof, three at the Stadtpark),
// one device roaming to the Stadtpark by real RADIUS accounting, then the IT
// team in Chromium: the counts, a revocation whose Disconnect-Request the
// access point acknowledges, the counts after it.
func TestAdminSeesTheTown(t *testing.T) {
	needTool(t, "radclient")
	needTool(t, "chromium")
	nasPort, disconnects := testNAS(t, "testing123")
	cfg := testConfig(t, t.TempDir())
	cfg.RADIUS.Clients[0].CoAPort = nasPort
	var logs testtool.LogBuffer
	gw := startGateway(t, cfg, &logs)
	addrs := gw.g.Addrs()

	var macs []string
	for i := range 8 {
		mac := fmt.Sprintf("da:a1:19:00:0b:%02x", i)
		nas, ap := "bahnhof-ap-1", fmt.Sprintf("02:00:00:00:01:%02x", 1+i%2)
		if i >= 5 {
			nas, ap = "stadtpark-ap-2", "02:00:00:00:02:02"
		}
		post := signIn(t, addrs.Portal, url.Values{"client_mac": {mac}, "nas_id": {nas}, "ap_mac": {ap}, "ssid": {"WiFi4EU"}})
		if post.StatusCode != 303 {
			t.Fatalf("sign-in %d: status %d", i, post.StatusCode)
		}
		macs = append(macs, mac)
	}
	// The access point at the Bahnhof accepts the roamer and learns its
	// session from Class; the one at the Stadtpark then reports it.
	roamer := macs[0]
	out, _ := radclient(t, addrs.RADIUSAuth, macAuth(roamer, "bahnhof-ap-1")...)
	m := classAttr.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("Access-Accept without Class:\n%s", out)
	}
	class := m[1]
	acct := exec.Command("radclient", "-x", "-r", "1", "-t", "2", addrs.RADIUSAcct, "acct", "testing123")
	acct.Stdin = strings.NewReader(fmt.Sprintf("Acct-Status-Type = Start\nUser-Name = %q\nCalling-Station-Id = %q\nNAS-Identifier = \"stadtpark-ap-3\"\nAcct-Session-Id = \"S-0001\"\nCalled-Station-Id = \"02-00-00-00-02-03:WiFi4EU\"\nClass = 0x%s\nFramed-IP-Address = 10.1.0.20\n", roamer, roamer, class))
	if out, err := acct.CombinedOutput(); err != nil || !strings.Contains(string(out), "Received Accounting-Response") {
		t.Fatalf("accounting Start: %v\n%s", err, out)
	}
	var sessionID []byte
	fmt.Sscanf(class, "%x", &sessionID)
	id := string(sessionID)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath("chromium"),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.Env(testtool.BrowserTempDir(t)),
		chromedp.WindowSize(1280, 800),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	base := "http://" + addrs.Admin
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/login?lang=de"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), gw.g.DemoPassword()),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#total")),
	); err != nil {
		t.Fatal(err)
	}
	if got := text("#total"); got != "8" {
		t.Fatalf("online = %q, want 8", got)
	}
	byLoc := text("#by-location")
	for _, want := range []string{"Bahnhof 4", "Stadtpark 4", "Brückerfeld 0", "Rathaus 0"} {
		if !strings.Contains(byLoc, want) {
			t.Errorf("by location %q lacks %q", byLoc, want)
		}
	}
	// The map: the demo locations' coordinates (locations[].lat/lon) are
	// wired to the dashboard, each place sized by its count.
	if got := text("#map"); !strings.Contains(got, "Bahnhof (4)") || !strings.Contains(got, "Stadtpark (4)") || !strings.Contains(got, "Rathaus (0)") || !strings.Contains(got, "Brückerfeld (0)") {
		t.Errorf("map = %q, want the four places with their counts", got)
	}
	radii, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`Array.from(document.querySelectorAll("#map circle")).map(c => c.r.baseVal.value)`))
	if err != nil || len(radii) != 4 {
		t.Fatalf("map circles: %v %v", radii, err)
	}
	if radii[1] <= radii[0] || radii[1] != radii[2] || radii[3] != radii[0] {
		t.Errorf("circle radii %v: Bahnhof and Stadtpark (4) must be alike and larger than Brückerfeld and Rathaus (0)", radii)
	}
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	for _, mac := range macs {
		for _, form := range []string{mac, strings.ReplaceAll(mac, ":", ""), strings.ToUpper(strings.ReplaceAll(mac, ":", "-"))} {
			if strings.Contains(page, form) {
				t.Errorf("the dashboard shows the MAC %s", form)
			}
		}
	}
	if strings.Contains(page, "10.1.0.20") {
		t.Error("the dashboard shows the client's IP address")
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			if _, err := png.DecodeConfig(bytes.NewReader(buf)); err != nil {
				return err
			}
			if os.Getenv("ROAMGATE_SCREENSHOTS") == "1" {
				return os.WriteFile(filepath.Join("..", "docs", "screenshots", name), buf, 0o644)
			}
			return nil
		})
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/sessions?location=stadtpark"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+id+`"] button`)),
		chromedp.Click(chromedp.CSS(`tr[data-session="`+id+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#message")),
	); err != nil {
		t.Fatal(err)
	}
	if msg := text("#message"); !strings.Contains(msg, id) || !strings.Contains(msg, "ACK") {
		t.Errorf("revoke message = %q, want the session and the NAS's ACK", msg)
	}
	select {
	case p := <-disconnects:
		if got := string(p.Get(44)); got != "S-0001" { // Acct-Session-Id
			t.Errorf("Disconnect-Request names Acct-Session-Id %q, want S-0001", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the access point got no Disconnect-Request")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#total")), shot("admin-gateway-dashboard.png")); err != nil {
		t.Fatal(err)
	}
	if got := text("#total"); got != "7" {
		t.Fatalf("online after the revocation = %q, want 7", got)
	}
	if got := text("#by-location"); !strings.Contains(got, "Stadtpark 3") || !strings.Contains(got, "Bahnhof 4") {
		t.Errorf("by location after the revocation = %q", got)
	}
	if o, _ := radclient(t, addrs.RADIUSAuth, macAuth(roamer, "stadtpark-ap-3")...); !strings.Contains(o, "Received Access-Reject") {
		t.Errorf("the revoked device is still accepted:\n%s", o)
	}
}
