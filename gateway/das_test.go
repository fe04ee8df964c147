package gateway_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/radius"
	"roamgate/session"
)

// browserClient keeps cookies and does not follow redirects.
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// submit fetches page and posts its first POST form (hidden fields plus
// extra) as a browser would, returning the answer.
func submit(t *testing.T, c *http.Client, page string, extra url.Values) *http.Response {
	t.Helper()
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", page, resp.StatusCode)
	}
	form, action := parseForm(t, resp.Body)
	for k, v := range extra {
		form[k] = v
	}
	base, _ := url.Parse(page)
	target, err := base.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	post, err := c.PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	return post
}

// TestSignOutDisconnectsAtTheNAS: the citizen's own sign-out on /status
// takes the device offline at the access point — the NAS gets a
// Disconnect-Request, as for an admin revocation.
func TestSignOutDisconnectsAtTheNAS(t *testing.T) {
	needTool(t, "radclient")
	nasPort, disconnects := testNAS(t, "testing123")
	cfg := testConfig(t, t.TempDir())
	cfg.RADIUS.Clients[0].CoAPort = nasPort
	var logs testtool.LogBuffer
	gw := startGateway(t, cfg, &logs)
	addrs := gw.g.Addrs()

	const mac = "da:a1:19:00:0c:01"
	c := browserClient(t)
	portal := "http://" + addrs.Portal
	if resp := submit(t, c, portal+"/?client_mac="+mac+"&nas_id=bahnhof-ap-1&ssid=WiFi4EU", url.Values{"terms": {"1"}, "accept": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	// The access point lets the device in: RADIUS now knows its NAS.
	expectAccept(t, addrs.RADIUSAuth, macAuth(mac, "bahnhof-ap-1"), 25*time.Hour)

	resp := submit(t, c, portal+"/status", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	select {
	case p := <-disconnects:
		if got := string(p.Get(31)); got != "DA-A1-19-00-0C-01" { // Calling-Station-Id
			t.Errorf("Disconnect-Request for %q, want the device", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the access point got no Disconnect-Request after the sign-out")
	}
}

// TestUnsignedClientOnDashboard: a RADIUS client configured without
// Message-Authenticator (uspot through radcli before 1.5) is logged once at
// start and named on the admin dashboard.
func TestUnsignedClientOnDashboard(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	noMA := false
	cfg.RADIUS.Clients = append(cfg.RADIUS.Clients, radius.Client{
		Name: "stadtpark-uspot", CIDR: "192.0.2.0/24", Secret: "stadtpark-uspot-secret", Location: "stadtpark",
		Vendor: "uspot", RequireMessageAuthenticator: &noMA,
	})
	var logs testtool.LogBuffer
	gw := startGateway(t, cfg, &logs)
	admin := "http://" + gw.g.Addrs().Admin

	resp, err := http.PostForm(admin+"/api/v1/token", url.Values{"name": {"admin"}, "password": {gw.g.DemoPassword()}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", admin+"/?lang=en", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if !strings.Contains(page, `id="unsigned-clients"`) || !strings.Contains(page, "<b>stadtpark-uspot</b>") || strings.Contains(page, "<b>demo</b>") {
		t.Errorf("dashboard does not name exactly the unsigned client:\n%s", page)
	}
	if n := strings.Count(logs.String(), "without Message-Authenticator"); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
}

// TestRevokeAgain: an operator's second revocation of a session is not
// refused. It answers 200 and sends the Disconnect-Request again: the
// operator retries a revocation whose answer was an error (during a
// store's failover the write can be applied and announced without its
// answer arriving, cmd/roamgate TestDrillLoseSiteA), and must be able to
// make sure of it. A session that is not there stays 404.
func TestRevokeAgain(t *testing.T) {
	needTool(t, "radclient")
	nasPort, disconnects := testNAS(t, "testing123")
	cfg := testConfig(t, t.TempDir())
	cfg.RADIUS.Clients[0].CoAPort = nasPort
	gw := startGateway(t, cfg, io.Discard)
	addrs := gw.g.Addrs()

	const mac = "da:a1:19:00:0c:02"
	c := browserClient(t)
	if resp := submit(t, c, "http://"+addrs.Portal+"/?client_mac="+mac+"&nas_id=bahnhof-ap-1&ssid=WiFi4EU", url.Values{"terms": {"1"}, "accept": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	expectAccept(t, addrs.RADIUSAuth, macAuth(mac, "bahnhof-ap-1"), 25*time.Hour)
	m, _ := session.ParseMAC(mac)
	s, err := gw.g.Manager().ByMAC(m)
	if err != nil {
		t.Fatal(err)
	}
	tok := adminToken(t, addrs.Admin, gw.g.DemoPassword())
	for try := 1; try <= 2; try++ {
		if got := adminDo(t, addrs.Admin, "POST", "/api/v1/sessions/"+s.ID+"/revoke", tok); got != http.StatusOK {
			t.Fatalf("revocation %d: status %d, want 200", try, got)
		}
		select {
		case p := <-disconnects:
			if got := string(p.Get(31)); got != "DA-A1-19-00-0C-02" { // Calling-Station-Id
				t.Errorf("Disconnect-Request %d for %q, want the device", try, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the access point got no Disconnect-Request for revocation %d", try)
		}
	}
	if _, err := gw.g.Manager().ByID(s.ID); !errors.Is(err, session.ErrRevoked) {
		t.Errorf("after the revocations ByID: %v, want ErrRevoked", err)
	}
	if got := adminDo(t, addrs.Admin, "POST", "/api/v1/sessions/0123456789abcdef0123456789abcdef/revoke", tok); got != http.StatusNotFound {
		t.Errorf("revoking an unknown session: %d, want 404", got)
	}
}
