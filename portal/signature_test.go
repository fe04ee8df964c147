package portal

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"roamgate/portal/vendor"
)

// chilliSigned appends md= to a redirect URL as CoovaChilli does
// (src/redir.c:639-660: MD5 of the URL so far and the uamsecret, "%.2X").
func chilliSigned(u, secret string) string {
	sum := md5.Sum([]byte(u + secret))
	return u + "&md=" + strings.ToUpper(fmt.Sprintf("%x", sum))
}

// chilliQuery is a CoovaChilli res=notyet redirect's query in chilli's
// order and escaping (src/redir.c:414-637; redir_urlencode writes %xx in
// lower case). httptest requests reach the portal as http://example.com/.
func chilliQuery(res, mac, userurl string) string {
	q := "res=" + res + "&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090" +
		"&called=00-0D-B9-12-34-56&mac=" + mac + "&ip=10.1.0.7&nasid=nas-bahnhof&sessionid=5f1c2d3e00000001"
	if userurl != "" {
		q += "&userurl=" + strings.NewReplacer(":", "%3a", "/", "%2f", "?", "%3f", "=", "%3d").Replace(userurl)
	}
	return q
}

const testPortal = "http://example.com/"

// signedArrival is the "?query" of a signed chilli redirect to the splash.
func signedArrival(secret, res, mac, userurl string) string {
	return strings.TrimPrefix(chilliSigned(testPortal+"?"+chilliQuery(res, mac, userurl), secret), testPortal)
}

func coovaEnv(t *testing.T, cfg Config, aps ...vendor.AccessPoint) *testEnv {
	return newTestEnvWith(t, cfg, func(d *Deps) {
		d.APNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}
		d.AccessPoints = aps
	})
}

// TestForgedCoovaRedirectRefused: with a UAM secret configured, a redirect
// whose md= does not verify, or that has none, is refused on GET / and on
// POST /connect — no session is created for the MAC it names (issue 11
// item 1). Before, the portal ignored md= and signed anyone in as any MAC.
func TestForgedCoovaRedirectRefused(t *testing.T) {
	env := coovaEnv(t, Config{Coova: CoovaConfig{UAMSecret: "bahnhof-uam-secret"}})
	good := signedArrival("bahnhof-uam-secret", "notyet", "DA-A1-19-5E-00-01", "http://example.org/")
	forged := strings.Replace(good, "DA-A1-19-5E-00-01", "DA-A1-19-5E-00-02", 1)
	unsigned := "?" + chilliQuery("notyet", "DA-A1-19-5E-00-02", "")
	for _, tc := range []struct{ name, target string }{{"forged md", forged}, {"no md", unsigned}} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := env.get(t, "/"+tc.target, "Accept-Language", "de")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Anmeldelink nicht bestätigt") {
				t.Fatalf("GET %s: %d, want 403 with the German signature page\n%s", tc.target, resp.StatusCode, body)
			}
		})
	}

	// The form of a good arrival, posted with the signed URL altered, or
	// without it and the victim's MAC as a field.
	f := env.splash(t, good)
	if f.values.Get(vendor.ParamRedirect) != testPortal+good || f.values.Has("mac") {
		t.Fatalf("splash form carries %v, want the signed URL alone", f.values)
	}
	altered := accepted(f)
	altered.Set(vendor.ParamRedirect, testPortal+forged)
	if resp, _ := env.post(t, altered, f.cookie); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with an altered signed URL: %d, want 403", resp.StatusCode)
	}
	fields := accepted(f)
	fields.Del(vendor.ParamRedirect)
	for k, v := range map[string]string{"res": "notyet", "uamip": "10.1.0.1", "uamport": "3990", "mac": "DA-A1-19-5E-00-02", "challenge": "f1d5a54b9f2a49c3b0f0e0d0c0b0a090"} {
		fields.Set(k, v)
	}
	if resp, _ := env.post(t, fields, f.cookie); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with unsigned fields: %d, want 403", resp.StatusCode)
	}
	if n := len(env.sessions.created()); n != 0 {
		t.Fatalf("%d sessions created from refused arrivals", n)
	}
	if st := env.srv.Stats(); st.SignatureInvalid != 2 || st.SignatureMissing != 2 {
		t.Errorf("signature failures counted: invalid %d missing %d, want 2 and 2", st.SignatureInvalid, st.SignatureMissing)
	}

	// The genuine form signs in the MAC chilli signed.
	resp, _ := env.post(t, accepted(f), f.cookie)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "10.1.0.1:3990" || loc.Path != "/logon" {
		t.Fatalf("genuine sign-in: %d to %v", resp.StatusCode, loc)
	}
	if c := env.sessions.created(); len(c) != 1 || c[0].MAC.String() != "da:a1:19:5e:00:01" || c[0].Location != "bahnhof" {
		t.Errorf("created %+v, want the signed MAC at bahnhof", c)
	}
}

// TestSignedArrivalPerAccessPoint: the uamip's RADIUS client has its own
// UAM secret (issue 12 §2b); the language switch keeps the signature; a
// client with require_signature: false takes unsigned arrivals.
func TestSignedArrivalPerAccessPoint(t *testing.T) {
	no := false
	env := coovaEnv(t, Config{Coova: CoovaConfig{UAMSecret: "site-default"}},
		vendor.AccessPoint{Name: "bahnhof-uam", Network: netip.MustParsePrefix("10.1.0.1/32"), Vendor: "coova", Location: "bahnhof", UAMSecret: "bahnhof-own"},
		vendor.AccessPoint{Name: "markt-uam", Network: netip.MustParsePrefix("10.1.0.2/32"), Vendor: "coova", RequireSignature: &no},
	)
	if resp, _ := env.get(t, "/"+signedArrival("site-default", "notyet", "DA-A1-19-5E-00-01", "")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("signed with the site default, not bahnhof's own secret: %d, want 403", resp.StatusCode)
	}
	good := signedArrival("bahnhof-own", "notyet", "DA-A1-19-5E-00-01", "")
	resp, body := env.get(t, "/"+good)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed with bahnhof's secret: %d", resp.StatusCode)
	}
	links := 0
	for _, a := range parseHTML(t, body).find("a") {
		if href := a.attr("href"); strings.Contains(href, "lang=") {
			links++
			if resp, _ := env.get(t, href); resp.StatusCode != http.StatusOK {
				t.Errorf("language link %s: %d, want the signed splash", href, resp.StatusCode)
			}
		}
	}
	if links == 0 {
		t.Error("no language links on the splash")
	}
	f := env.splash(t, good)
	resp, _ = env.post(t, accepted(f), f.cookie)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	chal := []byte{0xf1, 0xd5, 0xa5, 0x4b, 0x9f, 0x2a, 0x49, 0xc3, 0xb0, 0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90}
	want := vendor.CHAPResponse(0, env.sessions.UAMSecret("00000000000000000000000000000001"), vendor.CoovaChallenge(chal, "bahnhof-own"))
	if loc.Query().Get("response") != want {
		t.Errorf("logon %v, want the CHAP response with bahnhof's own secret", loc)
	}

	unsigned := "/?" + strings.Replace(chilliQuery("notyet", "DA-A1-19-5E-00-03", ""), "uamip=10.1.0.1", "uamip=10.1.0.2", 1)
	if resp, _ := env.get(t, unsigned); resp.StatusCode != http.StatusOK {
		t.Errorf("unsigned at a client with require_signature false: %d, want the splash", resp.StatusCode)
	}
}

// TestResSuccessIsNoOpenRedirect: /?res=success&uamip=…&userurl=<any URL>
// sent a signed-in citizen anywhere (issue 11 item 8). Now the portal
// follows it only when chilli signed it, or when it is the continue URL
// this browser's own sign-in handed to the access point.
func TestResSuccessIsNoOpenRedirect(t *testing.T) {
	env := coovaEnv(t, Config{})
	f := env.splash(t, "?"+chilliQuery("notyet", "DA-A1-19-5E-00-01", "http://example.org/"))
	resp, _ := env.post(t, accepted(f), f.cookie)
	session := cookieNamed(resp, sessionCookie)
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	link := "/?res=success&uamip=10.1.0.1&uamport=3990&userurl=http%3A%2F%2Fevil.example%2Fphish"
	req := httptest.NewRequest(http.MethodGet, link, nil)
	req.AddCookie(session)
	resp, _ = env.do(t, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("link to a foreign userurl: %d to %q, want the online page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if env.srv.Stats().ContinueRefused != 1 {
		t.Errorf("continue refusals counted: %d, want 1", env.srv.Stats().ContinueRefused)
	}

	// With a UAM secret, chilli's signed res=success is followed, a forged
	// one refused.
	env = coovaEnv(t, Config{Coova: CoovaConfig{UAMSecret: "bahnhof-uam-secret"}})
	f = env.splash(t, signedArrival("bahnhof-uam-secret", "notyet", "DA-A1-19-5E-00-01", "http://example.org/"))
	resp, _ = env.post(t, accepted(f), f.cookie)
	session = cookieNamed(resp, sessionCookie)
	signed := signedArrival("bahnhof-uam-secret", "success", "DA-A1-19-5E-00-01", "http://example.org/news")
	req = httptest.NewRequest(http.MethodGet, "/"+signed, nil)
	req.AddCookie(session)
	if resp, _ = env.do(t, req); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://example.org/news" {
		t.Errorf("signed res=success: %d to %q, want the userurl", resp.StatusCode, resp.Header.Get("Location"))
	}
	req = httptest.NewRequest(http.MethodGet, "/"+strings.Replace(signed, "example.org%2fnews", "evil.example%2f", 1), nil)
	req.AddCookie(session)
	if resp, _ = env.do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged signed res=success: %d, want 403", resp.StatusCode)
	}
}

// TestEmptyUserURLLands: chilli's first redirect of a new phone carries no
// userurl (issue 12 §2b); the logon then names a page to land on instead of
// none: the venue's page, else the portal's status page.
func TestEmptyUserURLLands(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"venue page", Config{VenueInfoURL: "https://www.example-stadt.de/wlan"}, "https://www.example-stadt.de/wlan"},
		{"status page", Config{}, "http://example.com/status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := coovaEnv(t, tc.cfg)
			f := env.splash(t, "?"+chilliQuery("notyet", "DA-A1-19-5E-00-01", ""))
			resp, _ := env.post(t, accepted(f), f.cookie)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Path != "/logon" || loc.Query().Get("userurl") != tc.want {
				t.Errorf("logon %v: userurl %q, want %q", loc, loc.Query().Get("userurl"), tc.want)
			}
		})
	}
}

// TestOpenNDSGateways: an openNDS gateway configured under
// portal.opennds.gateways (not a RADIUS client) signs a device in; its
// level-1 base64 arrives with '+' unescaped; the auth URL always has redir.
func TestOpenNDSGateways(t *testing.T) {
	no := false
	cfg := Config{OpenNDS: OpenNDSConfig{Gateways: []OpenNDSGateway{
		{Name: "markt", CIDR: "192.168.8.1", FASKey: "markt-faskey-0123456789", Location: "markt", RequireSignature: &no},
		{Name: "rathaus", CIDR: "192.168.9.1", FASKey: "rathaus-faskey-0123456789"},
	}}}
	env := newTestEnv(t, cfg)
	const hid = "d4f5a1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
	plain := func(gw string) string {
		return "hid=" + hid + ", clientip=192.168.8.23, clientmac=da:a1:19:5e:00:01, client_type=cpd_can, cpi_query=, gatewayname=openNDS%20Markt, " +
			"gatewayurl=http%3A%2F%2Fstatus.client, version=10.2.0, gatewayaddress=" + gw + ":2050, gatewaymac=00:11:22:33:44:55, " +
			"originurl=, clientif=br-lan, themespec=, custom=~~>, "
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(plain("192.168.8.1")))
	if !strings.Contains(b64, "+") {
		t.Fatal("test fas has no '+'")
	}
	f := env.splash(t, "?fas="+b64) // raw, as openNDS writes it
	resp, _ := env.post(t, accepted(f), f.cookie)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "192.168.8.1:2050" || loc.Path != "/opennds_auth/" ||
		loc.Query().Get("tok") != vendor.OpenNDSToken(hid, "markt-faskey-0123456789") || loc.Query().Get("redir") == "" {
		t.Fatalf("sign-in at markt: %d to %v", resp.StatusCode, loc)
	}
	if c := env.sessions.created(); len(c) != 1 || c[0].MAC.String() != "da:a1:19:5e:00:01" || c[0].Location != "markt" {
		t.Errorf("created %+v, want the device at markt (the gateway's location)", c)
	}

	// rathaus requires encryption with its faskey: level 1 is refused,
	// level 3 signs in.
	level1 := base64.StdEncoding.EncodeToString([]byte(plain("192.168.9.1")))
	if resp, _ := env.get(t, "/?fas="+url.QueryEscape(level1)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("level 1 at a gateway that requires a signature: %d, want 403", resp.StatusCode)
	}
	const iv = "a1b2c3d4e5f6a7b8"
	level3 := vendor.OpenNDSEncrypt(plain("192.168.9.1"), iv, "rathaus-faskey-0123456789")
	f = env.splash(t, "?fas="+url.QueryEscape(level3)+"&iv="+iv)
	resp, _ = env.post(t, accepted(f), f.cookie)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if loc.Host != "192.168.9.1:2050" || loc.Query().Get("tok") != vendor.OpenNDSToken(hid, "rathaus-faskey-0123456789") {
		t.Errorf("level 3 at rathaus: %v", loc)
	}
	if resp, _ := env.get(t, "/?fas="+url.QueryEscape(vendor.OpenNDSEncrypt(plain("192.168.9.1"), iv, "markt-faskey-0123456789"))+"&iv="+iv); resp.StatusCode != http.StatusForbidden {
		t.Errorf("rathaus arrival encrypted with markt's key: %d, want 403", resp.StatusCode)
	}
}

// TestContinueVerifiesTheSignature: the one-tap /continue of a signed-in
// device moves its session to the MAC the access point signed, never to one
// an altered or unsigned form names (issue 11 item 1).
func TestContinueVerifiesTheSignature(t *testing.T) {
	env := coovaEnv(t, Config{Coova: CoovaConfig{UAMSecret: "bahnhof-uam-secret"}})
	f := env.splash(t, signedArrival("bahnhof-uam-secret", "notyet", "DA-A1-19-5E-00-01", ""))
	resp, _ := env.post(t, accepted(f), f.cookie)
	session := cookieNamed(resp, sessionCookie)
	if session == nil {
		t.Fatal("no session cookie")
	}
	// The same phone back with a rotated MAC: the returning form.
	req := httptest.NewRequest(http.MethodGet, "/"+signedArrival("bahnhof-uam-secret", "notyet", "DA-A1-19-5E-00-02", ""), nil)
	req.AddCookie(session)
	resp, body := env.do(t, req)
	doc := parseHTML(t, body)
	if forms := doc.find("form"); resp.StatusCode != http.StatusOK || len(forms) != 1 || forms[0].attr("action") != "/continue" {
		t.Fatalf("returning device: %d, forms %v", resp.StatusCode, forms)
	}
	v := url.Values{}
	for _, in := range doc.find("input") {
		v.Set(in.attr("name"), in.attr("value"))
	}
	csrf := cookieNamed(resp, csrfCookie)
	post := func(v url.Values) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "/continue", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(session)
		if csrf != nil {
			req.AddCookie(csrf)
		}
		resp, _ := env.do(t, req)
		return resp
	}
	altered := url.Values{}
	for k, vs := range v {
		altered[k] = vs
	}
	altered.Set(vendor.ParamRedirect, strings.Replace(v.Get(vendor.ParamRedirect), "DA-A1-19-5E-00-02", "DA-A1-19-5E-00-09", 1))
	if resp := post(altered); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/continue with an altered signed URL: %d, want 403", resp.StatusCode)
	}
	unsigned := url.Values{csrfField: {v.Get(csrfField)}, "continue": {"1"}, "uamip": {"10.1.0.1"}, "res": {"notyet"},
		"challenge": {"f1d5a54b9f2a49c3b0f0e0d0c0b0a090"}, "mac": {"DA-A1-19-5E-00-09"}}
	if resp := post(unsigned); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/continue with unsigned fields: %d, want 403", resp.StatusCode)
	}
	if env.sessions.rebinds != 0 {
		t.Fatalf("%d rebinds from refused forms", env.sessions.rebinds)
	}
	if resp := post(v); resp.StatusCode != http.StatusSeeOther || env.sessions.rebinds != 1 {
		t.Errorf("/continue with the signed form: %d, %d rebinds; want 303 and 1", resp.StatusCode, env.sessions.rebinds)
	}
}
