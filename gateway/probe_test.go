package gateway_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"roamgate/probe"
)

// osAccepts is what each OS's check code takes as "online", written down
// here from the OSes themselves, independently of roamgate/probe's answers:
//   - Apple (captive.apple.com/hotspot-detect.html): the Success page;
//   - Android/ChromeOS (NetworkMonitor): status 204, nothing else;
//   - Windows NCSI: the exact text "Microsoft Connect Test" or "Microsoft NCSI";
//   - Firefox (captivedetect): "success\n", or the canonical page;
//   - NetworkManager (src/nm-connectivity.c): the header
//     "X-NetworkManager-Status: online", whatever the body.
func osAccepts(t *testing.T, c probe.Check, resp *http.Response, body string) {
	t.Helper()
	const apple = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
	ok := false
	switch c.OS {
	case "apple":
		ok = resp.StatusCode == 200 && body == apple
	case "android":
		ok = resp.StatusCode == 204 && body == ""
	case "windows":
		want := "Microsoft Connect Test"
		if strings.HasSuffix(c.Path, "ncsi.txt") {
			want = "Microsoft NCSI"
		}
		ok = resp.StatusCode == 200 && body == want
	case "firefox":
		if c.Path == "/canonical.html" {
			ok = resp.StatusCode == 200 && body == `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`
		} else {
			ok = resp.StatusCode == 200 && body == "success\n"
		}
	case "networkmanager":
		ok = resp.Header.Get("X-NetworkManager-Status") == "online" && resp.StatusCode < 300
	default:
		t.Errorf("%s: no expectation for OS %q: add one here", c.Host, c.OS)
		return
	}
	if !ok {
		t.Errorf("%s (%s%s) signed in: %d %q %v, not what %s accepts", c.OS, c.Host, c.Path, resp.StatusCode, body, resp.Header, c.OS)
	}
}

// TestProbeHostsThroughDNSAndPortal: every host of the one probe list, as
// the gateway's real DNS and portal serve it, for a phone at 127.0.0.5.
// Captive: dig resolves the host to the portal, and the portal answers the
// OS's request there with a redirect to the splash (so the OS opens it).
// Signed in: dig forwards the host to the upstream, and the portal, should
// the request still reach it (a cached address, an access point that
// intercepts HTTP), answers it as that OS expects. Before issue 13 the DNS
// sent 19 names to a portal that recognised 12 (Debian's, Ubuntu's and
// openSUSE's checks got the "you are online" page, which NetworkManager
// reads as a captive portal).
func TestProbeHostsThroughDNSAndPortal(t *testing.T) {
	needTool(t, "dig")
	cfg := testConfig(t, t.TempDir())
	cfg.DNS.PortalIP = "127.0.0.1" // where the portal listens
	cfg.DNS.Upstream = []string{localResolver(t)}
	// The demo's RADIUS client is all of 127.0.0.0/8, which the portal
	// would take for an access point NATing its phones: keep it to one
	// address, so that 127.0.0.5 is a phone.
	cfg.RADIUS.Clients[0].CIDR = "127.0.0.1/32"
	gw := startGateway(t, cfg, io.Discard)
	addrs := gw.g.Addrs()
	_, portalPort, _ := net.SplitHostPort(addrs.Portal)

	const phone = "127.0.0.5"
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(phone)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// get asks what the OS asks: the portal at the address DNS gave, with
	// the probe host in Host, and no cookie (OS checks carry none).
	get := func(t *testing.T, ip string, c probe.Check) (*http.Response, string) {
		t.Helper()
		path := c.Path
		if path == "*" || path == "" {
			path = "/"
		}
		req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(ip, portalPort)+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = c.Host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET http://%s%s: %v", c.Host, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	hosts := probe.Hosts()
	for _, h := range hosts {
		if st, a := digA(t, addrs.DNS, phone, h, false); st != "NOERROR" || a != "127.0.0.1" {
			t.Errorf("captive: %s resolves to %s %q, want the portal 127.0.0.1", h, st, a)
		}
	}
	for _, c := range probe.Checks {
		resp, _ := get(t, "127.0.0.1", c)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, cfg.Site.PortalURL) {
			t.Errorf("captive: %s%s answered %d (Location %q), want a redirect to the splash", c.Host, c.Path, resp.StatusCode, loc)
		}
	}

	signInFrom(t, addrs.Portal, phone)
	for _, h := range hosts {
		if st, a := digA(t, addrs.DNS, phone, h, false); st != "NOERROR" || a != "192.0.2.10" {
			t.Errorf("signed in: %s resolves to %s %q, want the upstream's 192.0.2.10", h, st, a)
		}
	}
	oses := map[string]bool{}
	for _, c := range probe.Checks {
		if c.Path == "" {
			continue // resolved only: Windows makes no HTTP request to dns.msftncsi.com
		}
		oses[c.OS] = true
		resp, body := get(t, "127.0.0.1", c)
		osAccepts(t, c, resp, body)
	}
	for _, os := range []string{"apple", "android", "windows", "firefox", "networkmanager"} {
		if !oses[os] {
			t.Errorf("no check of %s in the probe list", os)
		}
	}
}
