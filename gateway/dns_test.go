package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"roamgate/gateway"
	"roamgate/internal/resolvertest"
)

// localResolver is the upstream of the gateway's DNS in these tests: it
// answers every A query with 192.0.2.10, on loopback, UDP and TCP.
func localResolver(t *testing.T) string {
	t.Helper()
	return resolvertest.Serve(t, resolvertest.A(netip.MustParseAddr("192.0.2.10"), 60))
}

var digStatusLine = regexp.MustCompile(`status: ([A-Z]+)`)

// digA asks the real dig for name's A record from the client address src
// and returns the status and the addresses.
func digA(t *testing.T, server, src, name string, tcp bool) (string, string) {
	t.Helper()
	ap := netip.MustParseAddrPort(server)
	args := []string{"@" + ap.Addr().String(), "-p", fmt.Sprint(ap.Port()), "-b", src,
		"+time=2", "+tries=1", "+noall", "+comments", "+answer", name, "A"}
	if tcp {
		args = append(args, "+tcp")
	}
	out, err := exec.Command("dig", args...).CombinedOutput()
	m := digStatusLine.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	var addrs []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 5 && !strings.HasPrefix(line, ";") && f[3] == "A" {
			addrs = append(addrs, f[4])
		}
	}
	return string(m[1]), strings.Join(addrs, ",")
}

// signInFrom signs in through the portal as a browser on the client
// address src does.
func signInFrom(t *testing.T, portal, src string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	params := url.Values{"ssid": {"WiFi4EU"}, "nas_id": {"bahnhof-ap-1"}, "url": {"http://example.org/"}}
	resp, err := client.Get("http://" + portal + "/?" + params.Encode())
	if err != nil {
		t.Fatalf("GET splash: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET splash: status %d", resp.StatusCode)
	}
	form, action := parseForm(t, resp.Body)
	form.Set("terms", "1")
	form.Set("accept", "1")
	base, _ := url.Parse("http://" + portal + "/")
	target, err := base.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	post, err := client.PostForm(target.String(), form)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	io.Copy(io.Discard, post.Body)
	post.Body.Close()
	if post.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: status %d, want 303", target, post.StatusCode)
	}
}

// TestCaptiveDNSJourney: a phone without a session is pointed at the
// portal; after it signs in at the portal, and after accounting reports its
// new address, its queries are forwarded; stopping the gateway frees the
// DNS port.
func TestCaptiveDNSJourney(t *testing.T) {
	needTool(t, "dig")
	needTool(t, "radclient")
	cfg := testConfig(t, t.TempDir())
	cfg.DNS.Listen = "127.0.0.1:0"
	cfg.DNS.PortalIP = "10.9.0.1"
	cfg.DNS.Upstream = []string{localResolver(t)}
	// The access point is 127.0.0.1 and the phones are elsewhere on
	// loopback: the portal takes a sign-in's address as the device's only
	// outside the access points' networks (issue 11 item 2).
	cfg.RADIUS.Clients[0].CIDR = "127.0.0.1/32"
	gw := startGateway(t, cfg, io.Discard)
	addrs := gw.g.Addrs()
	if addrs.DNS == "" {
		t.Fatal("Addrs().DNS is empty")
	}
	var banner strings.Builder
	gw.g.PrintBanner(&banner)
	if !strings.Contains(banner.String(), "DNS           "+addrs.DNS+"/udp+tcp") {
		t.Errorf("banner does not say where DNS listens:\n%s", banner.String())
	}

	for _, tcp := range []bool{false, true} {
		for _, name := range []string{"example.org", "captive.apple.com"} {
			if st, a := digA(t, addrs.DNS, "127.0.0.5", name, tcp); st != "NOERROR" || a != "10.9.0.1" {
				t.Fatalf("%s before sign-in (tcp %v): %s %s, want the portal 10.9.0.1", name, tcp, st, a)
			}
		}
	}

	signInFrom(t, addrs.Portal, "127.0.0.5")
	for _, tcp := range []bool{false, true} {
		if st, a := digA(t, addrs.DNS, "127.0.0.5", "example.org", tcp); st != "NOERROR" || a != "192.0.2.10" {
			t.Fatalf("after sign-in (tcp %v): %s %s, want the upstream's 192.0.2.10", tcp, st, a)
		}
	}
	if st, a := digA(t, addrs.DNS, "127.0.0.8", "example.org", false); a != "10.9.0.1" {
		t.Fatalf("another client after the sign-in: %s %s, want the portal", st, a)
	}

	// The DHCP lease moves: the access point's accounting Start reports
	// the session at 127.0.0.8.
	s, err := gw.g.Manager().ByIP(netip.MustParseAddr("127.0.0.5"))
	if err != nil {
		t.Fatalf("session of 127.0.0.5: %v", err)
	}
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "2", addrs.RADIUSAcct, "acct", "testing123")
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		`Acct-Status-Type = Start`,
		`Acct-Session-Id = "dns-test-1"`,
		fmt.Sprintf(`Class = "%s"`, s.ID),
		`NAS-Identifier = "bahnhof-ap-1"`,
		`Called-Station-Id = "02-00-00-00-00-01:WiFi4EU"`,
		`Framed-IP-Address = 127.0.0.8`,
	}, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Accounting-Response") {
		t.Fatalf("radclient acct: %v\n%s", err, out)
	}
	if st, a := digA(t, addrs.DNS, "127.0.0.8", "example.org", false); st != "NOERROR" || a != "192.0.2.10" {
		t.Fatalf("new address after accounting: %s %s, want the upstream's 192.0.2.10", st, a)
	}
	if st, a := digA(t, addrs.DNS, "127.0.0.5", "example.org", true); a != "10.9.0.1" {
		t.Fatalf("old address after accounting: %s %s, want the portal", st, a)
	}

	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(addrs.DNS)
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatalf("DNS port %s/udp still taken after the gateway stopped: %v", ap, err)
	}
	u.Close()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatalf("DNS port %s/tcp still taken after the gateway stopped: %v", ap, err)
	}
	l.Close()
}

// TestDNSConfigErrorsNameTheKeyPath: a bad dns section is reported with
// its key path, through Load as an operator meets it.
func TestDNSConfigErrorsNameTheKeyPath(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"listen", "ROAMGATE_DNS_LISTEN=localhost", "dns.listen: "},
		{"portal_ip", "ROAMGATE_DNS_PORTAL_IP=::1", "dns.portal_ip: "},
		{"ttl", "ROAMGATE_DNS_TTL=60", "dns.ttl: 60 is not between 0 and 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.Load("", []string{tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := gateway.New(context.Background(), gateway.Config{}, nil); err == nil {
		t.Fatal("New accepted an empty config")
	}
}
