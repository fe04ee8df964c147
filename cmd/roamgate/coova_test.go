//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"roamgate/internal/chillitest"
	"roamgate/internal/testtool"
)

// The bed's fixed values. Addresses exist only inside the test's
// namespaces (internal/chillitest: core 10.99.0.1, access point i's WAN
// 10.99.i.2, its phones 10.i.0.0/24).
const (
	coovaPortal    = "http://" + chillitest.CoreIP + ":8080"
	coovaUAMSecret = "uam-secret-of-the-bed" // each chilli appends its name: one secret per access point
	// coovaIdle is roamgate's session.idle_timeout, sent to chilli as
	// Idle-Timeout: how long an access point keeps reporting a phone that
	// walked away (journey 8), and how long roamgate keeps a session no
	// access point reports.
	coovaIdle = 12 * time.Second
	// coovaInterim is chilli's HS_DEFINTERIMINTERVAL in seconds. roamgate
	// sends no Acct-Interim-Interval (radius.interim_interval: 0; it
	// refuses less than 60 s, and so does chilli for the attribute,
	// src/chilli.c:3982), so chilli uses its own default
	// (session_param_defaults, src/chilli.c:3942, applied after the reply's
	// attributes, src/chilli.c:4268).
	coovaInterim = 2
)

// coovaBed is one topology shared by the journeys: roamgate and the
// stand-in internet in the core, chilli at the Bahnhof and at the
// Stadtpark. Each journey uses phones of its own, so one journey's state
// does not decide another's outcome.
type coovaBed struct {
	net                *chillitest.Net
	internet           string
	gw                 *gatewayProc
	admin              *http.Client
	token              string // the admin API's bearer token
	bahnhof, stadtpark *chillitest.AP
	// radiusClient names each access point's radius.clients entry.
	radiusClient map[*chillitest.AP]string
}

func newCoovaBed(t *testing.T) *coovaBed {
	t.Helper()
	inst := chillitest.Need(t)
	bin := buildBinary(t)
	b := &coovaBed{net: chillitest.NewNet(t, inst), radiusClient: map[*chillitest.AP]string{}}
	b.internet = b.net.ServeInternet(t)
	b.admin = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: b.net.Core.DialContext}}
	b.bahnhof = b.net.AddAP(t, "bahnhof")
	b.stadtpark = b.net.AddAP(t, "stadtpark")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "roamgate.yaml")
	if err := os.WriteFile(cfg, []byte(coovaConfig(dir, b.bahnhof, b.stadtpark)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.radiusClient[b.bahnhof], b.radiusClient[b.stadtpark] = "bahnhof-chilli", "stadtpark-chilli"
	b.gw = startGatewayCmd(t, b.net.Core.Command(bin, "serve", "-config", cfg))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("roamgate's log:\n%s", b.gw.stderr.String())
		}
	})
	for _, ap := range []*chillitest.AP{b.bahnhof, b.stadtpark} {
		place := strings.ToUpper(ap.Name[:1]) + ap.Name[1:]
		ap.StartChilli(t,
			chillitest.Var{Name: "HS_UAMPORT", Value: "3990"},
			chillitest.Var{Name: "HS_NASID", Value: ap.Name + "-ap-1"},
			chillitest.Var{Name: "HS_LOC_NAME", Value: place},
			chillitest.Var{Name: "HS_RADIUS", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_RADIUS2", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_RADSECRET", Value: "radius-secret-" + ap.Name},
			chillitest.Var{Name: "HS_UAMSECRET", Value: coovaUAMSecret + "-" + ap.Name}, // its own: radius.clients[].uam_secret
			chillitest.Var{Name: "HS_UAMSERVER", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_UAMFORMAT", Value: coovaPortal + "/"},
			chillitest.Var{Name: "HS_UAMHOMEPAGE", Value: ""},
			chillitest.Var{Name: "HS_UAMALLOW", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_MACAUTH", Value: "on"},
			chillitest.Var{Name: "HS_COAPORT", Value: "3799"},
			chillitest.Var{Name: "HS_DNS1", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_DNS2", Value: chillitest.CoreIP},
			chillitest.Var{Name: "HS_DEFINTERIMINTERVAL", Value: strconv.Itoa(coovaInterim)},
			// RFC 8910 from chilli's own DHCP (src/dhcp.c:3355); functions
			// has no HS_ variable for it, HS_RAW_CONFIG1 goes to main.conf
			// as it is (conf/functions.in writeconfig1).
			chillitest.Var{Name: "HS_RAW_CONFIG1", Value: "captiveportalapi_uri " + coovaPortal + "/api/captive"},
		)
	}
	return b
}

// coovaConfig is roamgate's configuration for the bed: each chilli is a
// RADIUS client at its WAN address, plus the "-uam" entry for its UAM
// address the recipe lists (the portal follows login URLs only into
// RADIUS client networks).
func coovaConfig(dir string, aps ...*chillitest.AP) string {
	var clients strings.Builder
	for _, ap := range aps {
		fmt.Fprintf(&clients, `    - name: %[1]s-chilli
      cidr: %[2]s/32
      secret: "radius-secret-%[1]s"
      location: %[1]s
      vendor: coova
      coa_port: 3799
    - name: %[1]s-chilli-uam
      cidr: %[3]s/32
      secret: "radius-secret-%[1]s"
      location: %[1]s
      vendor: coova
      uam_secret: %[4]q
`, ap.Name, ap.WANIP, ap.UAMListen, coovaUAMSecret+"-"+ap.Name)
	}
	return fmt.Sprintf(`site:
  name: "Stadt-WLAN (chilli test bed)"
  portal_url: "%[1]s/"
data_dir: %[2]q
session:
  lifetime: 1h
  idle_timeout: %[3]s
portal:
  listen: "%[4]s:8080"
  vendor: auto
  coova:
    uam_secret: %[5]q # the default; each chilli has its own
radius:
  auth_listen: "%[4]s:1812"
  acct_listen: "%[4]s:1813"
  interim_interval: 0s
  clients:
%[6]sdns:
  listen: "%[4]s:53"
  portal_ip: "%[4]s"
admin:
  listen: "127.0.0.1:9080"
locations:
  - id: bahnhof
    name: "Bahnhof"
    network: wifi4eu
    match:
      nas_id: ["bahnhof-*"]
  - id: stadtpark
    name: "Stadtpark"
    network: wifi4eu
    match:
      nas_id: ["stadtpark-*"]
networks:
  - id: wifi4eu
    ssid: "WiFi4EU"
`, coovaPortal, filepath.Join(dir, "data"), coovaIdle, chillitest.CoreIP, coovaUAMSecret, clients.String())
}

// TestCoovaJourneys is issue 12 §4: a real CoovaChilli between phones and
// roamgate, each journey judged by what the phone itself sees.
func TestCoovaJourneys(t *testing.T) {
	start := time.Now()
	b := newCoovaBed(t)
	t.Logf("bed up after %v", time.Since(start))

	anna := b.net.NewPhone(t, "anna", "da:a1:19:00:12:01")
	var annaSession string

	if !t.Run("1 sign-in through chilli at the Bahnhof", func(t *testing.T) {
		lease := anna.Join(t, b.bahnhof)
		if !netip.MustParsePrefix(b.bahnhof.Network+"/24").Contains(netip.MustParseAddr(lease.IP)) || lease.Router != b.bahnhof.UAMListen {
			t.Fatalf("lease from the Bahnhof chilli: %v", lease)
		}
		// HS_DNS1: chilli's DHCP hands out roamgate's captive DNS.
		if len(lease.DNS) == 0 || lease.DNS[0] != chillitest.CoreIP {
			t.Errorf("DNS servers from chilli's DHCP = %v, want roamgate's %s first", lease.DNS, chillitest.CoreIP)
		}
		// The phone's operating system asks the RFC 8908 API that DHCP
		// announced (option 114): captive.
		if lease.CaptivePortal != coovaPortal+"/api/captive" {
			t.Errorf("DHCP option 114 from chilli = %q, want %s", lease.CaptivePortal, coovaPortal+"/api/captive")
		} else if st := b.captiveAPI(t, anna, lease.CaptivePortal); !st.Captive || st.UserPortalURL == "" {
			t.Errorf("RFC 8908 API before the sign-in: %+v, want captive with a user-portal-url", st)
		}
		// chilli answers the phone's first web request with a redirect to
		// HS_UAMFORMAT and its parameters (bstring_buildurl,
		// src/redir.c:414-636).
		splash := b.open(t, anna, b.internet+"/news")
		redirect := b.portalHop(t, splash)
		q := redirect.Query()
		for k, want := range map[string]string{
			"res": "notyet", "uamip": b.bahnhof.UAMListen, "uamport": "3990", "nasid": "bahnhof-ap-1",
			"mac": chilliMAC(anna.MAC), "called": chilliMAC(b.bahnhof.MAC), "ip": lease.IP,
		} {
			if got := q.Get(k); got != want {
				t.Errorf("chilli's redirect: %s=%q, want %q (%s)", k, got, want, redirect)
			}
		}
		// The challenge, and md: MD5 over the URL and the UAM secret
		// (src/redir.c:631, redir_md_param).
		for k, re := range map[string]string{"challenge": `^[0-9a-f]{32}$`, "md": `^[0-9A-F]{32}$`} {
			if !regexp.MustCompile(re).MatchString(q.Get(k)) {
				t.Errorf("chilli's redirect: %s=%q does not match %s", k, q.Get(k), re)
			}
		}
		if !strings.Contains(splash.Body, "Bahnhof") {
			t.Errorf("the splash does not name the Bahnhof (chilli's nasid):\n%s", splash)
		}

		// The tap sends the browser to chilli's /logon (src/redir.c:2238),
		// chilli asks RADIUS and, on Access-Accept, sends the browser back
		// with res=success (redir_reply, src/redir.c:4175-4196).
		online := b.tapAccept(t, anna, splash)
		logon, ok := online.HopTo("http://" + b.bahnhof.UAMListen + ":3990")
		if !ok || logon.Path != "/logon" || logon.Query().Get("username") == "" {
			t.Fatalf("the tap did not take the phone to chilli's /logon:\n%s", online)
		}
		success := false
		for _, u := range online.Hops {
			success = success || (u.Host == chillitest.CoreIP+":8080" && u.Query().Get("res") == "success")
		}
		if !success {
			t.Fatalf("chilli did not send the phone back with res=success (Access-Accept):\n%s", online)
		}
		if online.Status != http.StatusOK {
			t.Errorf("the page after the sign-in: %s", online)
		}
		s := b.waitChilli(t, b.bahnhof, anna, "pass")
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.User) {
			t.Errorf("chilli's user for the phone = %q, want roamgate's session ID", s.User)
		}
		annaSession = s.User
		if pg := b.open(t, anna, b.internet+"/news"); !pg.Reached(b.internet) {
			t.Fatalf("after the sign-in the phone does not reach the internet:\n%s", pg)
		}
		// The operating system, without the browser's cookie, is known by
		// its address from chilli's accounting: no longer captive.
		if lease.CaptivePortal != "" {
			testtool.Eventually(t, 5*time.Second, "the RFC 8908 API tells the phone's OS it is no longer captive", func() bool {
				return !b.captiveAPI(t, anna, lease.CaptivePortal).Captive
			})
		}
	}) {
		t.Fatal("journey 1 failed; the others build on it")
	}

	t.Run("2 the same phone at the Stadtpark: MAC authentication, no splash", func(t *testing.T) {
		macAccepts := b.metric(t, "roamgate_radius_accepts_total", "reason", "mac")
		lease := anna.Join(t, b.stadtpark)
		if !netip.MustParsePrefix(b.stadtpark.Network + "/24").Contains(netip.MustParseAddr(lease.IP)) {
			t.Fatalf("lease from the Stadtpark chilli: %v", lease)
		}
		// chilli asks RADIUS with the MAC when the phone asks for an
		// address and does not hold the DHCP answer back for it
		// (src/chilli.c:5072-5083, cb_dhcp_request): wait for the verdict
		// as a phone's first request after a few hundred milliseconds
		// would.
		b.waitChilli(t, b.stadtpark, anna, "pass")
		if got := b.metric(t, "roamgate_radius_accepts_total", "reason", "mac"); got <= macAccepts {
			t.Errorf("roamgate counted no MAC-authentication accept (%v before, %v after)", macAccepts, got)
		}
		pg := b.open(t, anna, b.internet+"/walked")
		if !pg.Reached(b.internet) || len(pg.Hops) != 1 {
			t.Fatalf("at the Stadtpark the phone was not let through at once:\n%s", pg)
		}
	})

	t.Run("8 the Bahnhof keeps reporting the phone that walked on: it stays at the Stadtpark, one roam", func(t *testing.T) {
		if s, ok := b.bahnhof.Chilli.Session(t, anna.MAC); !ok || s.State != "pass" {
			t.Fatalf("the Bahnhof chilli should still hold the old association: %+v %v", s, ok)
		}
		acct0 := b.metric(t, "roamgate_radius_requests_total", "client", "bahnhof-chilli", "code", "Accounting-Request")
		// The Bahnhof chilli sends Interim-Updates for the old association
		// every coovaInterim seconds until the phone has been silent there
		// for longer than Idle-Timeout, then ends it with a Stop
		// (session_interval, src/chilli.c:1123-1130 and 1156-1174). Until
		// then the phone browses at the Stadtpark and roamgate must keep
		// the session there.
		deadline := time.Now().Add(coovaIdle + 15*time.Second)
		var wrong []string
		for {
			if pg := b.open(t, anna, b.internet+"/still-here"); !pg.Reached(b.internet) {
				t.Fatalf("the phone lost the internet at the Stadtpark while the Bahnhof reported it:\n%s", pg)
			}
			if s := b.session(t, annaSession); s.Location != "stadtpark" {
				wrong = append(wrong, fmt.Sprintf("%s: at %q (roams %d)", time.Now().Format("15:04:05.0"), s.Location, s.Roams))
			}
			if s, ok := b.bahnhof.Chilli.Session(t, anna.MAC); !ok || s.State != "pass" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Bahnhof chilli did not end the old association within %v", coovaIdle+15*time.Second)
			}
			time.Sleep(500 * time.Millisecond) // the phone's browsing pace, bounded by the deadline
		}
		// The Bahnhof's Interim-Updates and its Stop reached roamgate.
		testtool.Eventually(t, 5*time.Second, "the Bahnhof's accounting for the old association reaches roamgate", func() bool {
			return b.metric(t, "roamgate_radius_requests_total", "client", "bahnhof-chilli", "code", "Accounting-Request") >= acct0+2
		})
		if len(wrong) > 0 {
			t.Errorf("the old association's accounting moved the session away from the Stadtpark %d times: %v", len(wrong), wrong)
		}
		s := b.session(t, annaSession)
		if s.Location != "stadtpark" || s.Roams != 1 {
			t.Errorf("after the Bahnhof's Stop: session at %q with %d roams, want stadtpark with 1", s.Location, s.Roams)
		}
	})

	t.Run("3 an unknown phone at the Stadtpark is sent to the splash", func(t *testing.T) {
		ben := b.net.NewPhone(t, "ben", "da:a1:19:00:12:02")
		rejects := b.metricSum(t, "roamgate_radius_rejects_total")
		ben.Join(t, b.stadtpark)
		// The phone browses once roamgate has refused its MAC: a late
		// Access-Accept could not let it in afterwards.
		testtool.Eventually(t, 10*time.Second, "roamgate rejects the unknown phone's MAC authentication", func() bool {
			return b.metricSum(t, "roamgate_radius_rejects_total") > rejects
		})
		pg := b.open(t, ben, b.internet+"/")
		redirect := b.portalHop(t, pg)
		if q := redirect.Query(); q.Get("nasid") != "stadtpark-ap-1" || q.Get("mac") != chilliMAC(ben.MAC) || q.Get("res") != "notyet" {
			t.Errorf("chilli's redirect: %s", redirect)
		}
		if _, err := pg.Form("/connect"); err != nil || !strings.Contains(pg.Body, "Stadtpark") {
			t.Errorf("the unknown phone does not see the Stadtpark's splash with the sign-in form (%v):\n%s", err, pg)
		}
		if s, _ := b.stadtpark.Chilli.Session(t, ben.MAC); s.State != "dnat" {
			t.Errorf("chilli's state for the unknown phone = %q, want dnat", s.State)
		}
	})

	t.Run("4 accounting Start, Interim-Update and Stop reach roamgate", func(t *testing.T) {
		cem := b.net.NewPhone(t, "cem", "da:a1:19:00:12:03")
		cem.Join(t, b.bahnhof)
		before := b.acctCounts(t)
		id := b.signIn(t, cem)
		testtool.Eventually(t, 5*time.Second, "an Accounting Start reaches roamgate", func() bool {
			return b.acctCounts(t)["start"] > before["start"]
		})
		s := b.session(t, id)
		if s.Location != "bahnhof" || s.AP != b.bahnhof.MAC {
			t.Errorf("the admin shows the session at %q, AP %q; want bahnhof, %s", s.Location, s.AP, b.bahnhof.MAC)
		}
		st := b.stats(t)
		if st.ByLocation["bahnhof"] < 1 || st.ByAP[b.bahnhof.MAC] < 1 {
			t.Errorf("the admin's stats do not count the device at the Bahnhof: %+v", st)
		}
		// Interim-Update: the phone downloads 200 kB; while chilli still
		// has it online, only an Interim-Update can carry those octets
		// (Start carries none).
		const size = 200_000
		if pg := b.open(t, cem, fmt.Sprintf("%s/bytes/%d", b.internet, size)); !pg.Reached(b.internet) || len(pg.Body) < size {
			t.Fatalf("download: %s", pg)
		}
		testtool.Eventually(t, 3*time.Duration(coovaInterim)*time.Second+3*time.Second, "an Interim-Update with the download's octets reaches roamgate", func() bool {
			s := b.session(t, id)
			return s.InputOctets+s.OutputOctets >= size
		})
		if c := b.acctCounts(t); c["interim_update"] <= before["interim_update"] {
			t.Errorf("no Interim-Update counted: %v", c)
		}
		if s, _ := b.bahnhof.Chilli.Session(t, cem.MAC); s.State != "pass" {
			t.Fatalf("chilli ended the session on its own: %+v", s)
		}
		// Stop: the phone logs off at chilli itself (its /logoff,
		// src/redir.c:2240).
		stops := b.acctCounts(t)["stop"]
		b.open(t, cem, "http://"+b.bahnhof.UAMListen+":3990/logoff")
		b.waitChilli(t, b.bahnhof, cem, "dnat")
		testtool.Eventually(t, 5*time.Second, "the Accounting Stop reaches roamgate", func() bool {
			return b.acctCounts(t)["stop"] > stops
		})
		if s := b.session(t, id); s.InputOctets+s.OutputOctets < size || s.Location != "bahnhof" {
			t.Errorf("after the Stop the admin shows %+v", s)
		}
	})

	t.Run("5 revocation in the admin: Disconnect, chilli cuts the phone off", func(t *testing.T) {
		dora := b.net.NewPhone(t, "dora", "da:a1:19:00:12:04")
		dora.Join(t, b.bahnhof)
		id := b.signIn(t, dora)
		mark := b.mark(b.bahnhof)
		if status, body := b.adminCall(t, "POST", "/api/v1/sessions/"+id+"/revoke", ""); status != http.StatusOK {
			t.Fatalf("revoke: %d %s", status, body)
		}
		b.waitOffline(t, dora, "after the revocation", mark)
	})

	t.Run("5 revocation of a phone that roamed: Disconnect to the chilli it is at now", func(t *testing.T) {
		gus := b.net.NewPhone(t, "gus", "da:a1:19:00:12:07")
		gus.Join(t, b.bahnhof)
		id := b.signIn(t, gus)
		gus.Join(t, b.stadtpark)
		// Let in by MAC authentication: chilli's session there is not
		// the UAM login's, so the Disconnect must name what this chilli
		// knows (src/chilli.c:4896-4900 matches User-Name exactly).
		b.waitChilli(t, b.stadtpark, gus, "pass")
		if pg := b.open(t, gus, b.internet+"/"); !pg.Reached(b.internet) {
			t.Fatalf("not online after roaming:\n%s", pg)
		}
		mark := b.mark(b.stadtpark)
		if status, body := b.adminCall(t, "POST", "/api/v1/sessions/"+id+"/revoke", ""); status != http.StatusOK {
			t.Fatalf("revoke: %d %s", status, body)
		}
		b.waitOffline(t, gus, "after the revocation", mark)
	})

	t.Run("6 the citizen signs out on /status: offline at chilli, back to the splash", func(t *testing.T) {
		emil := b.net.NewPhone(t, "emil", "da:a1:19:00:12:05")
		emil.Join(t, b.stadtpark)
		b.signIn(t, emil)
		status := b.open(t, emil, coovaPortal+"/status")
		form, err := status.Form("/status/disconnect")
		if err != nil {
			t.Fatalf("/status has no sign-out: %v\n%s", err, status)
		}
		mark := b.mark(b.stadtpark)
		out, err := emil.Submit(form)
		if err != nil {
			t.Fatalf("sign-out: %v", err)
		}
		t.Logf("after signing out the phone shows %s", out.URL)
		b.waitOffline(t, emil, "after signing out on /status", mark)
	})

	t.Run("7 crisis mode: an unknown phone gets online without the splash", func(t *testing.T) {
		until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if status, body := b.adminCall(t, "POST", "/api/v1/crisis",
			fmt.Sprintf(`{"active": true, "message": {"de": "Hochwasser: Notunterkunft Stadthalle"}, "until": %q}`, until)); status != http.StatusOK {
			t.Fatalf("crisis on: %d %s", status, body)
		}
		t.Cleanup(func() {
			if status, body := b.adminCall(t, "DELETE", "/api/v1/crisis", ""); status != http.StatusOK {
				t.Errorf("crisis off: %d %s", status, body)
			}
		})
		fynn := b.net.NewPhone(t, "fynn", "da:a1:19:00:12:06")
		fynn.Join(t, b.stadtpark)
		b.waitChilli(t, b.stadtpark, fynn, "pass")
		if pg := b.open(t, fynn, b.internet+"/help"); !pg.Reached(b.internet) || len(pg.Hops) != 1 {
			t.Fatalf("in a crisis the unknown phone is not let through at once:\n%s", pg)
		}
	})
	t.Logf("journeys took %v in all", time.Since(start))
}

// open loads u in the phone's browser; a transport error fails the test.
func (b *coovaBed) open(t *testing.T, p *chillitest.Phone, u string) *chillitest.Page {
	t.Helper()
	pg, err := p.Open(u)
	if err != nil {
		t.Fatalf("%s opens %s: %v (%v)", p.Name, u, err, pg)
	}
	return pg
}

// captiveState is an RFC 8908 API answer.
type captiveState struct {
	Captive       bool   `json:"captive"`
	UserPortalURL string `json:"user-portal-url"`
}

// captiveAPI asks the RFC 8908 API as the phone's operating system does.
func (b *coovaBed) captiveAPI(t *testing.T, p *chillitest.Phone, u string) captiveState {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "application/captive+json")
	resp, err := p.OS.Do(req)
	if err != nil {
		t.Fatalf("%s asks %s: %v", p.Name, u, err)
	}
	defer resp.Body.Close()
	var st captiveState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("RFC 8908 API: status %d, %v", resp.StatusCode, err)
	}
	return st
}

// portalHop checks that the page is roamgate's splash, reached through a
// redirect from chilli, and returns that redirect.
func (b *coovaBed) portalHop(t *testing.T, pg *chillitest.Page) *url.URL {
	t.Helper()
	if pg.Status != http.StatusOK || pg.URL.Host != chillitest.CoreIP+":8080" || pg.URL.Path != "/" || len(pg.Hops) < 2 {
		t.Fatalf("the phone did not end on roamgate's splash through a redirect:\n%s", pg)
	}
	return pg.Hops[1]
}

// tapAccept is the citizen's one tap on the splash: tick the terms (when
// asked) and press the button; the browser then runs the vendor step page
// if there is one (step.js submits it on load) and follows the redirects.
func (b *coovaBed) tapAccept(t *testing.T, p *chillitest.Phone, splash *chillitest.Page) *chillitest.Page {
	t.Helper()
	form, err := splash.Form("/connect")
	if err != nil {
		t.Fatalf("no sign-in form: %v\n%s", err, splash)
	}
	var tick []string
	if _, ok := form.Checkboxes["terms"]; ok {
		tick = append(tick, "terms")
	}
	pg, err := p.Submit(form, tick...)
	if err != nil {
		t.Fatalf("tap: %v (%v)", err, pg)
	}
	for range 2 {
		step, err := pg.Form("vendor-step")
		if err != nil {
			break
		}
		hops := pg.Hops
		if pg, err = p.Submit(step); err != nil {
			t.Fatalf("vendor step: %v (%v)", err, pg)
		}
		pg.Hops = append(hops, pg.Hops...)
	}
	return pg
}

// signIn is a sign-in through chilli without the first journey's
// checks; it returns the roamgate session ID chilli logged in with.
func (b *coovaBed) signIn(t *testing.T, p *chillitest.Phone) string {
	t.Helper()
	splash := b.open(t, p, b.internet+"/")
	b.portalHop(t, splash)
	if pg := b.tapAccept(t, p, splash); pg.Status != http.StatusOK {
		t.Fatalf("sign-in: %s", pg)
	}
	s := b.waitChilli(t, p.AP(), p, "pass")
	if pg := b.open(t, p, b.internet+"/"); !pg.Reached(b.internet) {
		t.Fatalf("signed in but not online:\n%s", pg)
	}
	return s.User
}

// logMark is where chilli's and roamgate's logs stood before an action.
type logMark struct{ chilli, gateway int }

func (b *coovaBed) mark(ap *chillitest.AP) logMark {
	return logMark{len(ap.Chilli.Log(0)), len(b.gw.stderr.String())}
}

// waitOffline waits until the phone, asking for the internet, is sent to
// the splash again, and its chilli has it back in dnat. Failing, it quotes
// what chilli and roamgate logged about Disconnects since mark.
func (b *coovaBed) waitOffline(t *testing.T, p *chillitest.Phone, after string, mark logMark) {
	t.Helper()
	offline := testtool.Poll(10*time.Second, func() bool {
		pg := b.open(t, p, b.internet+"/after")
		if pg.Reached(b.internet) {
			return false
		}
		b.portalHop(t, pg)
		return true
	})
	if !offline {
		s, _ := p.AP().Chilli.Session(t, p.MAC)
		t.Fatalf("%s the phone still reaches the internet 10 s later (chilli at the %s: %+v)\nroamgate: %s\nchilli: %s",
			after, p.AP().Name, s, grepLines(b.gw.stderr.String()[mark.gateway:], "(?i)disconnect|logoff|signed out"),
			grepLines(p.AP().Chilli.Log(mark.chilli), "(?i)disconnect|coa|wrong address|username|logoff|logout"))
	}
	if s, _ := p.AP().Chilli.Session(t, p.MAC); s.State != "dnat" {
		t.Errorf("chilli's state for the phone = %q, want dnat", s.State)
	}
}

// waitChilli waits until ap's chilli has the phone in state.
func (b *coovaBed) waitChilli(t *testing.T, ap *chillitest.AP, p *chillitest.Phone, state string) chillitest.Session {
	t.Helper()
	var s chillitest.Session
	testtool.Eventually(t, 10*time.Second, fmt.Sprintf("the %s chilli has %s in state %s", ap.Name, p.Name, state), func() bool {
		s, _ = ap.Chilli.Session(t, p.MAC)
		return s.State == state
	})
	return s
}

// adminCall sends an API request to roamgate's admin (in the core
// namespace) with a bearer token, signing in again when it is refused.
func (b *coovaBed) adminCall(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	if b.token == "" {
		b.token = b.signInAdmin(t)
	}
	status, raw := b.adminDo(t, method, path, body)
	if status == http.StatusUnauthorized {
		b.token = b.signInAdmin(t)
		status, raw = b.adminDo(t, method, path, body)
	}
	return status, raw
}

func (b *coovaBed) adminDo(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+b.gw.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (b *coovaBed) signInAdmin(t *testing.T) string {
	t.Helper()
	resp, err := b.admin.PostForm("http://"+b.gw.admin+"/api/v1/token", url.Values{"name": {"admin"}, "password": {b.gw.password}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("admin token: status %d, %v", resp.StatusCode, err)
	}
	return tok.Token
}

// adminSession is a session as the admin API lists it.
type adminSession struct {
	ID           string `json:"id"`
	Location     string `json:"location"`
	AP           string `json:"ap"`
	Roams        int    `json:"roams"`
	InputOctets  uint64 `json:"input_octets"`
	OutputOctets uint64 `json:"output_octets"`
}

// session returns the admin's view of session id.
func (b *coovaBed) session(t *testing.T, id string) adminSession {
	t.Helper()
	status, body := b.adminCall(t, "GET", "/api/v1/sessions", "")
	var list struct {
		Sessions []adminSession `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != http.StatusOK {
		t.Fatalf("GET /api/v1/sessions: %d %s", status, body)
	}
	for _, s := range list.Sessions {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("the admin lists no session %s: %s", id, body)
	return adminSession{}
}

type adminStats struct {
	ByLocation map[string]int `json:"by_location"`
	ByAP       map[string]int `json:"by_ap"`
}

func (b *coovaBed) stats(t *testing.T) adminStats {
	t.Helper()
	status, body := b.adminCall(t, "GET", "/api/v1/stats", "")
	var st adminStats
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != http.StatusOK {
		t.Fatalf("GET /api/v1/stats: %d %s", status, body)
	}
	return st
}

// metricsText is roamgate's /metrics.
func (b *coovaBed) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := b.admin.Get("http://" + b.gw.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// metric is the sample of name whose labels include the given name/value
// pairs, 0 when there is none.
func (b *coovaBed) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	for _, line := range strings.Split(b.metricsText(t), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		lbls, value, _ := strings.Cut(rest, "} ")
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && strings.Contains(lbls, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
		}
		if match {
			v, _ := strconv.ParseFloat(value, 64)
			return v
		}
	}
	return 0
}

// metricSum adds up every sample of name.
func (b *coovaBed) metricSum(t *testing.T, name string) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(b.metricsText(t), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			fields := strings.Fields(line)
			v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
			sum += v
		}
	}
	return sum
}

// acctCounts are roamgate's Accounting-Requests by Acct-Status-Type.
func (b *coovaBed) acctCounts(t *testing.T) map[string]float64 {
	t.Helper()
	c := map[string]float64{}
	for _, st := range []string{"start", "interim_update", "stop"} {
		c[st] = b.metric(t, "roamgate_radius_accounting_requests_total", "status", st)
	}
	return c
}

// chilliMAC is a MAC as chilli writes it (AA-BB-CC-DD-EE-FF).
func chilliMAC(mac string) string { return strings.ToUpper(strings.ReplaceAll(mac, ":", "-")) }

// grepLines returns the lines of s matching re, joined.
func grepLines(s, re string) string {
	var out []string
	m := regexp.MustCompile(re)
	for _, l := range strings.Split(s, "\n") {
		if m.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
