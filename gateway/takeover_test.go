package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"roamgate/gateway"
	"roamgate/session"
)

// device is a browser on one loopback address, with its own cookie jar: a
// phone, or an attacker's laptop on the same open WiFi.
type device struct {
	t      *testing.T
	portal string
	addr   string
	client *http.Client
}

func newDevice(t *testing.T, portal, addr string) *device {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	return &device{t: t, portal: portal, addr: addr, client: &http.Client{Jar: jar, Timeout: 5 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get returns the status and body of GET path.
func (d *device) get(path string) (int, string) {
	d.t.Helper()
	resp, err := d.client.Get("http://" + d.portal + path)
	if err != nil {
		d.t.Fatalf("GET %s from %s: %v", path, d.addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit GETs the splash for the arrival params and posts its first form
// (sign-in, or the returning device's "continue") with extra values set.
func (d *device) submit(params url.Values, extra url.Values) *http.Response {
	d.t.Helper()
	resp, err := d.client.Get("http://" + d.portal + "/?" + params.Encode())
	if err != nil {
		d.t.Fatalf("GET splash from %s: %v", d.addr, err)
	}
	form, action := parseForm(d.t, resp.Body)
	resp.Body.Close()
	for k, v := range extra {
		form[k] = v
	}
	return d.post(action, form)
}

func (d *device) post(action string, form url.Values) *http.Response {
	d.t.Helper()
	base, _ := url.Parse("http://" + d.portal + "/")
	target, err := base.Parse(action)
	if err != nil {
		d.t.Fatal(err)
	}
	resp, err := d.client.PostForm(target.String(), form)
	if err != nil {
		d.t.Fatalf("POST %s from %s: %v", target, d.addr, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// signOut posts the status page's sign-out form.
func (d *device) signOut() {
	d.t.Helper()
	_, body := d.get("/status")
	form, action := parseForm(d.t, strings.NewReader(body))
	resp := d.post(action, form)
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusSeeOther && strings.HasSuffix(resp.Header.Get("Location"), "/logoff"):
		// A CoovaChilli arrival: the browser goes on to chilli's /logoff.
	default:
		d.t.Fatalf("sign-out from %s: %d to %q", d.addr, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// token is the session cookie's value, "" if none.
func (d *device) token() string {
	u, _ := url.Parse("http://" + d.portal + "/")
	for _, c := range d.client.Jar.Cookies(u) {
		if c.Name == "roamgate_session" {
			return c.Value
		}
	}
	return ""
}

// startSeparated starts a gateway whose access points are 127.0.0.1 only,
// so that the phones and the attacker are other loopback addresses: the
// portal sees each device's own address (issue 11 item 2).
func startSeparated(t *testing.T) *running {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.RADIUS.Clients[0].CIDR = "127.0.0.1/32"
	cfg.DNS.PortalIP = "10.9.0.1"
	cfg.DNS.Upstream = []string{localResolver(t)}
	return startGateway(t, cfg, io.Discard)
}

// radius sends one request with the real radclient (kind auth or acct) and
// returns its output.
func radiusSend(t *testing.T, addr, kind string, attrs ...string) string {
	t.Helper()
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "2", addr, kind, "testing123")
	cmd.Stdin = strings.NewReader(strings.Join(attrs, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("radclient %s: %v\n%s", kind, err, out)
	}
	return string(out)
}

func liveSession(t *testing.T, g *gateway.Gateway, token string) session.Session {
	t.Helper()
	s, err := g.Manager().FromToken(token)
	if err != nil {
		t.Fatalf("session of the token: %v", err)
	}
	return s
}

// TestTakeoverByMAC is issue 11's acceptance test for the critical flaw:
// knowing a device's MAC (anyone nearby on open WiFi sees it) used to be
// enough to get that device's session from POST /connect, follow its
// location on /status at every roam, sign it out, or move it away with
// /continue. A victim signs in; an attacker on another address, without the
// victim's cookie, signs in with the victim's MAC. The attacker's token
// names another session, and /status, sign-out and /continue with it do
// nothing to the victim's session; the victim gets the MAC back with one
// tap.
func TestTakeoverByMAC(t *testing.T) {
	needTool(t, "radclient")
	gw := startSeparated(t)
	addrs := gw.g.Addrs()
	mgr := gw.g.Manager()
	const victimMAC, attackerMAC = "da:a1:19:0f:00:01", "da:a1:19:0f:00:99"
	vmac, _ := session.ParseMAC(victimMAC)

	// The victim signs in at the Bahnhof; the AP authenticates the phone and
	// starts accounting with the phone's address.
	victim := newDevice(t, addrs.Portal, "127.0.0.2")
	arrival := url.Values{"client_mac": {victimMAC}, "nas_id": {"bahnhof-ap-1"}, "ssid": {"WiFi4EU"}, "url": {"http://example.org/"}}
	if resp := victim.submit(arrival, url.Values{"terms": {"1"}, "accept": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("victim's sign-in: %d", resp.StatusCode)
	}
	victimSess := liveSession(t, gw.g, victim.token())
	radiusSend(t, addrs.RADIUSAuth, "auth", macAuth(victimMAC, "bahnhof-ap-1")...)
	radiusSend(t, addrs.RADIUSAcct, "acct", `Acct-Status-Type = Start`, `Acct-Session-Id = "V-1"`,
		fmt.Sprintf(`Class = "%s"`, victimSess.ID), `NAS-Identifier = "bahnhof-ap-1"`,
		`Called-Station-Id = "02-00-00-00-00-01:WiFi4EU"`, `Framed-IP-Address = 127.0.0.2`)
	if code, body := victim.get("/status"); code != http.StatusOK || !strings.Contains(body, "Bahnhof") {
		t.Fatalf("the victim's own status page: %d, names the Bahnhof: %v", code, strings.Contains(body, "Bahnhof"))
	}

	// The attacker, on another address, without the victim's cookie.
	attacker := newDevice(t, addrs.Portal, "127.0.0.3")
	// (It signs in at the Rathaus: whatever it may see of its own sign-in,
	// it must never see the victim's Bahnhof or Stadtpark.)
	attArrival := url.Values{"client_mac": {victimMAC}, "nas_id": {"rathaus-ap-1"}, "ssid": {"Stadt-WLAN"}, "url": {"http://example.org/"}}
	if resp := attacker.submit(attArrival, url.Values{"terms": {"1"}, "accept": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("attacker's sign-in: %d", resp.StatusCode)
	}
	attSess := liveSession(t, gw.g, attacker.token())
	if attSess.ID == victimSess.ID {
		t.Fatal("the attacker's token names the victim's session")
	}
	if got := liveSession(t, gw.g, victim.token()); got.ID != victimSess.ID {
		t.Fatalf("the victim's token names %s", got.ID)
	}
	// The new session took the MAC over (MAC authentication follows it);
	// the victim's lives on without it.
	if s, err := mgr.ByMAC(vmac); err != nil || s.ID != attSess.ID {
		t.Errorf("after the attacker's sign-in the MAC's session is %s, %v; want the new one", s.ID, err)
	}

	// The victim's phone roams to the Stadtpark: its reports now go to the
	// session that holds the MAC. The attacker must not learn where.
	radiusSend(t, addrs.RADIUSAuth, "auth", macAuth(victimMAC, "stadtpark-ap-3")...)
	for _, path := range []string{"/status", "/", "/api/captive"} {
		code, body := attacker.get(path)
		if code != http.StatusOK {
			t.Errorf("attacker's %s: %d", path, code)
		}
		for _, place := range []string{"Stadtpark", "stadtpark", "Bahnhof", "bahnhof"} {
			if strings.Contains(body, place) {
				t.Errorf("the attacker's %s names %q", path, place)
			}
		}
	}

	// /continue with the attacker's token, to the attacker's own MAC.
	if resp := attacker.submit(url.Values{"client_mac": {attackerMAC}, "nas_id": {"rathaus-ap-1"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("attacker's continue: %d", resp.StatusCode)
	}
	// Sign-out with the attacker's token.
	attacker.signOut()
	if _, err := mgr.ByID(attSess.ID); err == nil {
		t.Error("the attacker's sign-out did not end the attacker's session")
	}

	// The victim's session is untouched: live, same token, and the place
	// still shown to the victim's phone alone.
	after, err := mgr.FromToken(victim.token())
	if err != nil || after.ID != victimSess.ID || !after.Expires.Equal(victimSess.Expires) {
		t.Fatalf("the victim's session after the attack: %+v, %v", after, err)
	}
	if code, body := victim.get("/status"); code != http.StatusOK || !strings.Contains(body, "Bahnhof") {
		t.Errorf("the victim's status page after the attack: %d", code)
	}

	// The attacker moved its session to its own MAC and signed out: no
	// session holds the victim's MAC now, so the phone lands on the portal,
	// which knows it by its cookie; it gets the MAC back with one tap.
	if s, err := mgr.ByMAC(vmac); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("after the attacker left, the victim's MAC has session %s, %v; want none", s.ID, err)
	}
	if resp := victim.submit(arrival, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("victim's continue: %d", resp.StatusCode)
	}
	if s, err := mgr.ByMAC(vmac); err != nil || s.ID != victimSess.ID {
		t.Fatalf("after the victim's one tap, the MAC's session is %s, %v; want the victim's", s.ID, err)
	}
	out := radiusSend(t, addrs.RADIUSAuth, "auth", macAuth(victimMAC, "bahnhof-ap-1")...)
	if !strings.Contains(out, "Access-Accept") || !strings.Contains(out, fmt.Sprintf("%x", victimSess.ID)) {
		t.Errorf("MAC authentication after the re-bind is not the victim's session:\n%s", out)
	}
	if c := mgr.Counters(); c.Displaced == 0 {
		t.Error("no displaced session counted")
	}
}

// TestAddressPushedCaptive is issue 11 item 2: a Coova-style sign-in naming
// a signed-in device's address (ip=), then a sign-out, used to leave that
// device captive — DNS answered the portal for every name, /generate_204
// redirected, /api/captive said captive — and its own sign-in did not
// repair it.
func TestAddressPushedCaptive(t *testing.T) {
	needTool(t, "dig")
	gw := startSeparated(t)
	addrs := gw.g.Addrs()
	victim := newDevice(t, addrs.Portal, "127.0.0.2")
	arrival := url.Values{"client_mac": {"da:a1:19:0f:01:01"}, "nas_id": {"bahnhof-ap-1"}, "ssid": {"WiFi4EU"}, "url": {"http://example.org/"}}
	resp, err := victim.client.Get("http://" + addrs.Portal + "/?" + arrival.Encode())
	if err != nil {
		t.Fatal(err)
	}
	signInForm, action := parseForm(t, resp.Body)
	resp.Body.Close()
	signInForm.Set("terms", "1")
	signInForm.Set("accept", "1")
	if resp := victim.post(action, signInForm); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("victim's sign-in: %d", resp.StatusCode)
	}
	online := func(when string) {
		t.Helper()
		if st, a := digA(t, addrs.DNS, "127.0.0.2", "example.org", false); st != "NOERROR" || a != "192.0.2.10" {
			t.Errorf("%s: DNS for the victim: %s %s, want the upstream's 192.0.2.10", when, st, a)
		}
		probe := newDevice(t, addrs.Portal, "127.0.0.2") // the OS's probe agent: no cookies
		if code, _ := probe.get("/generate_204"); code != http.StatusNoContent {
			t.Errorf("%s: /generate_204 for the victim: %d, want 204", when, code)
		}
		if _, body := probe.get("/api/captive"); !strings.Contains(body, `"captive":false`) {
			t.Errorf("%s: /api/captive for the victim: %s", when, body)
		}
	}
	online("after the victim's sign-in")

	attacker := newDevice(t, addrs.Portal, "127.0.0.3")
	coova := url.Values{"res": {"notyet"}, "uamip": {"127.0.0.1"}, "uamport": {"3990"},
		"challenge": {"f1d5a54b9f2a49c3b0f0e0d0c0b0a090"}, "mac": {"DA-A1-19-0F-01-99"}, "ip": {"127.0.0.2"},
		"nasid": {"bahnhof-ap-1"}, "userurl": {"http://example.org/"}}
	if resp := attacker.submit(coova, url.Values{"terms": {"1"}, "accept": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("attacker's sign-in: %d", resp.StatusCode)
	}
	attacker.signOut()
	if _, err := gw.g.Manager().ByIP(netip.MustParseAddr("127.0.0.3")); err == nil {
		t.Error("the attacker's signed-out session still answers for the attacker's address")
	}
	online("after the attacker's sign-in with ip= and sign-out")

	// The sign-in form posted again (a page left open), with the cookie.
	if resp := victim.post(action, signInForm); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("victim's sign-in again: %d", resp.StatusCode)
	}
	online("after the victim signed in again")
}
