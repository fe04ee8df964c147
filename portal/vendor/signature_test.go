package vendor

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// chilliURLEncode is CoovaChilli's redir_urlencode (src/redir.c:216-240):
// letters, digits and -_.!~* stay, every other octet becomes %xx in
// lower case.
func chilliURLEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%.2x", c)
		}
	}
	return b.String()
}

// chilliMD is redir_md_param (src/redir.c:639-660): MD5 over the URL so far
// and the secret, "%.2X" per octet.
func chilliMD(url, secret string) string {
	sum := md5.Sum([]byte(url + secret))
	var b strings.Builder
	for _, c := range sum {
		fmt.Fprintf(&b, "%.2X", c)
	}
	return b.String()
}

// chilliRedirect is the Location CoovaChilli sends a new device to, built
// as bstring_buildurl does (src/redir.c:414-637) for res=notyet: the
// uamserver URL, '?', then res, uamip, uamport, challenge, called, mac, ip,
// nasid, sessionid, userurl in that order, and md= last.
func chilliRedirect(uamserver, secret, mac, userurl string) string {
	s := uamserver + "?res=notyet&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090" +
		"&called=" + chilliURLEncode("00-0D-B9-12-34-56") + "&mac=" + chilliURLEncode(mac) + "&ip=10.1.0.7" +
		"&nasid=" + chilliURLEncode("nas-bahnhof") + "&sessionid=" + chilliURLEncode("5f1c2d3e00000001")
	if userurl != "" {
		s += "&userurl=" + chilliURLEncode(userurl)
	}
	if secret != "" {
		s += "&md=" + chilliMD(s, secret)
	}
	return s
}

// uspotRedirect is uspot's uam_url (files/usr/share/uspot/portal.uc:140-166,
// f00b4r0/uspot 094f0df): parameters unescaped but for userurl, md= over
// the URL with uc_md5 (src/uam.c:122-146, "%02hhX").
func uspotRedirect(uamserver, secret, ssid string) string {
	s := uamserver + "?res=notyet&uamip=10.1.0.1&uamport=3990&challenge=0B2E5B6A7F2C4D3E1A0B9C8D7E6F5A4B" +
		"&mac=DA-A1-19-5E-00-01&ip=10.1.0.7&called=02-00-5e-10-00-21&nasid=bahnhof-ap-1&sessionid=1a2b3c4d"
	if ssid != "" {
		s += "&ssid=" + ssid
	}
	s += "&userurl=" + url.QueryEscape("http://example.org/")
	if secret != "" {
		s += "&md=" + chilliMD(s, secret)
	}
	return s
}

// redirectQuery is what the portal hands the adapter on GET /: the
// browser's query parameters, and the whole URL as ParamRedirect.
func redirectQuery(raw string) Query {
	_, q, _ := strings.Cut(raw, "?")
	v, _ := url.ParseQuery(q)
	return func(name string) string {
		if name == ParamRedirect {
			return raw
		}
		return v.Get(name)
	}
}

func boolp(b bool) *bool { return &b }

func sigCfg() *Config {
	cfg := testCfg()
	cfg.CoovaUAMSecret = "site-default-secret"
	cfg.AccessPoints = []AccessPoint{
		{Name: "bahnhof-chilli-uam", Network: netip.MustParsePrefix("10.1.0.1/32"), Vendor: "coova", Location: "bahnhof", UAMSecret: "bahnhof-uam-secret"},
		{Name: "stadtpark-uam", Network: netip.MustParsePrefix("10.2.0.1/32"), Vendor: "coova", Location: "stadtpark"},
		{Name: "markt-open", Network: netip.MustParsePrefix("10.3.0.1/32"), Vendor: "coova", RequireSignature: boolp(false)},
		{Name: "uspot-uam", Network: netip.MustParsePrefix("10.4.0.1/32"), Vendor: "uspot"},
	}
	return cfg
}

// TestCoovaSignature: chilli's md= verifies with the uamip's own secret,
// and every alteration of the signed URL is refused.
func TestCoovaSignature(t *testing.T) {
	const portalURL = "https://wlan.example-stadt.de/"
	good := chilliRedirect(portalURL, "bahnhof-uam-secret", "DA-A1-19-5E-00-01", "http://example.org/news?id=1")
	cases := []struct {
		name         string
		raw          string
		want         Signature
		wantRequired bool
		wantMAC      string
		wantContinue string
	}{
		{"signed", good, SignatureValid, true, "da:a1:19:5e:00:01", "http://example.org/news?id=1"},
		{"lower-case md", good[:len(good)-32] + strings.ToLower(good[len(good)-32:]), SignatureValid, true, "da:a1:19:5e:00:01", "http://example.org/news?id=1"},
		{"another MAC", strings.Replace(good, "DA-A1-19-5E-00-01", "DA-A1-19-5E-00-02", 1), SignatureInvalid, true, "da:a1:19:5e:00:02", "http://example.org/news?id=1"},
		{"signed with the site default instead", chilliRedirect(portalURL, "site-default-secret", "DA-A1-19-5E-00-01", ""), SignatureInvalid, true, "da:a1:19:5e:00:01", ""},
		{"signed for another portal URL", chilliRedirect("https://evil.example/", "bahnhof-uam-secret", "DA-A1-19-5E-00-01", "")[len("https://evil.example/"):], SignatureInvalid, true, "", ""},
		{"unsigned", chilliRedirect(portalURL, "", "DA-A1-19-5E-00-01", ""), Unsigned, true, "da:a1:19:5e:00:01", ""},
		// A parameter after md= is not signed: it is not read.
		{"userurl appended", chilliRedirect(portalURL, "bahnhof-uam-secret", "DA-A1-19-5E-00-01", "") + "&userurl=http%3A%2F%2Fevil.example%2F",
			SignatureValid, true, "da:a1:19:5e:00:01", ""},
		{"mac prepended", strings.Replace(good, "?res=", "?mac=DA-A1-19-5E-00-09&res=", 1), SignatureInvalid, true, "da:a1:19:5e:00:09", "http://example.org/news?id=1"},
	}
	cfg := sigCfg()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if !strings.HasPrefix(raw, "http") {
				raw = portalURL + raw
			}
			ad := Detect(redirectQuery(raw))
			a, _ := ad.Parse(redirectQuery(raw), cfg)
			if ad.Name() != Coova || a.Signature != tc.want || a.SignatureRequired != tc.wantRequired {
				t.Fatalf("%s: signature %v required %v, want %v %v", ad.Name(), a.Signature, a.SignatureRequired, tc.want, tc.wantRequired)
			}
			if tc.wantMAC != "" && a.ClientMAC.String() != tc.wantMAC {
				t.Errorf("client MAC %v, want %s", a.ClientMAC, tc.wantMAC)
			}
			if a.ContinueURL != tc.wantContinue {
				t.Errorf("continue URL %q, want %q", a.ContinueURL, tc.wantContinue)
			}
			if a.AccessPoint != "bahnhof-chilli-uam" || a.Location != "bahnhof" {
				t.Errorf("access point %q at %q, want bahnhof-chilli-uam at bahnhof", a.AccessPoint, a.Location)
			}
		})
	}

	// The verified URL travels whole through the form; POST /connect parses
	// it again and gets the same arrival, and an altered one is refused.
	a, _ := coova{}.Parse(redirectQuery(good), cfg)
	carried := a.Params.Get(ParamRedirect)
	if len(a.Params) != 1 || carried != good {
		t.Fatalf("params %v, want the signed URL alone", a.Params)
	}
	form := url.Values{ParamRedirect: {carried}, "mac": {"DA-A1-19-5E-00-09"}}
	if !Detect(form.Get).Detect(form.Get) || Detect(form.Get).Name() != Coova {
		t.Fatal("a form carrying only the signed redirect is not detected as coova")
	}
	b, _ := coova{}.Parse(form.Get, cfg)
	if b.Signature != SignatureValid || b.ClientMAC != a.ClientMAC || b.LoginURL != a.LoginURL {
		t.Errorf("re-parsed from the form: %+v", b)
	}
	form.Set(ParamRedirect, strings.Replace(carried, "DA-A1-19-5E-00-01", "DA-A1-19-5E-00-09", 1))
	if b, _ := (coova{}).Parse(form.Get, cfg); b.Signature != SignatureInvalid {
		t.Errorf("altered signed URL in the form: %v", b.Signature)
	}

	// The logon is computed with the access point's own secret.
	step, err := coova{}.Authorize(context.Background(), a, cfg, cred)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(step.URL)
	chal, _ := hex.DecodeString("f1d5a54b9f2a49c3b0f0e0d0c0b0a090")
	if want := CHAPResponse(0, cred.Password, CoovaChallenge(chal, "bahnhof-uam-secret")); u.Query().Get("response") != want {
		t.Errorf("CHAP response %s, want %s (with bahnhof's uamsecret)", u.Query().Get("response"), want)
	}
}

// TestCoovaSignaturePerAccessPoint: the default secret, no secret, and
// require_signature: false.
func TestCoovaSignaturePerAccessPoint(t *testing.T) {
	const portalURL = "http://10.99.0.2:8080/"
	redirect := func(uamip, secret string) string {
		return strings.Replace(chilliRedirect(portalURL, "", "DA-A1-19-5E-00-01", ""), "uamip=10.1.0.1", "uamip="+uamip, 1) +
			map[bool]string{true: "", false: "&md=" + chilliMD(strings.Replace(chilliRedirect(portalURL, "", "DA-A1-19-5E-00-01", ""), "uamip=10.1.0.1", "uamip="+uamip, 1), secret)}[secret == ""]
	}
	cases := []struct {
		name, uamip, secret string
		noDefault           bool
		want                Signature
		required            bool
	}{
		{"site default secret", "10.2.0.1", "site-default-secret", false, SignatureValid, true},
		{"unsigned at a signing AP", "10.2.0.1", "", false, Unsigned, true},
		{"require_signature false", "10.3.0.1", "", false, Unsigned, false},
		{"require_signature false, forged md", "10.3.0.1", "guess", false, SignatureInvalid, false},
		{"no AP configured, default secret", "10.9.0.1", "", false, Unsigned, true},
		{"no secret anywhere", "10.2.0.1", "", true, Unsigned, false},
		{"no secret anywhere, md present", "10.2.0.1", "whatever", true, Unsigned, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sigCfg()
			if tc.noDefault {
				cfg.CoovaUAMSecret = ""
			}
			a, _ := coova{}.Parse(redirectQuery(redirect(tc.uamip, tc.secret)), cfg)
			if a.Signature != tc.want || a.SignatureRequired != tc.required {
				t.Errorf("signature %v required %v, want %v %v", a.Signature, a.SignatureRequired, tc.want, tc.required)
			}
		})
	}
}

// TestUspot: uspot's redirect (unescaped ssid, which the browser then
// escapes) verifies, and without a uam_secret its PAP logon carries the
// password in clear, as handler-uam.uc:28-29 reads it.
func TestUspot(t *testing.T) {
	cfg := sigCfg()
	cfg.AccessPoints[3].UAMSecret = "uspot-secret"
	raw := uspotRedirect("https://wlan.example-stadt.de/", "uspot-secret", "Stadt WLAN")
	raw = strings.ReplaceAll(raw, "uamip=10.1.0.1", "uamip=10.4.0.1")
	raw = raw[:strings.Index(raw, "&md=")]
	raw += "&md=" + chilliMD(raw, "uspot-secret")
	browser := strings.ReplaceAll(raw, " ", "%20") // what the browser requests
	a, invalid := coova{}.Parse(redirectQuery(browser), cfg)
	if a.Signature != SignatureValid || invalid != 0 || a.SSID != "Stadt WLAN" || a.AccessPoint != "uspot-uam" {
		t.Fatalf("uspot redirect: %v, invalid %d, %+v", a.Signature, invalid, a)
	}

	plain := strings.ReplaceAll(uspotRedirect("https://wlan.example-stadt.de/", "", ""), "uamip=10.1.0.1", "uamip=10.4.0.1")
	// The vendor name as apfamily reads it: any case.
	for _, vendor := range []string{"uspot", "USpot"} {
		cfg = sigCfg()
		cfg.CoovaUAMSecret, cfg.CoovaPAP = "", true
		cfg.AccessPoints[3].Vendor = vendor
		a, _ = coova{}.Parse(redirectQuery(plain), cfg)
		if a.SignatureRequired {
			t.Fatalf("%s without a uam_secret: signature required", vendor)
		}
		step, err := coova{}.Authorize(context.Background(), a, cfg, Credentials{Username: cred.Username, Password: "0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(step.URL)
		if u.Query().Get("password") != "0123456789abcdef" || u.Query().Has("response") {
			t.Errorf("%s PAP without secret: %s, want the password in clear", vendor, step.URL)
		}
	}
	// CoovaChilli without a secret still XORs the PAP password with the
	// challenge (src/redir.c:2845-2857).
	chilli := strings.ReplaceAll(plain, "uamip=10.4.0.1", "uamip=10.2.0.1")
	a, _ = coova{}.Parse(redirectQuery(chilli), cfg)
	step, _ := coova{}.Authorize(context.Background(), a, cfg, Credentials{Username: cred.Username, Password: "0123456789abcdef"})
	u, _ := url.Parse(step.URL)
	if u.Query().Get("password") == "0123456789abcdef" {
		t.Error("CoovaChilli PAP sent in clear")
	}
}

// TestOpenNDSSignature: level 1 is unsigned (refused where a faskey is
// known unless require_signature is false), '+' survives the query, level 3
// verifies with the gateway's own faskey, and an altered ciphertext is
// refused.
func TestOpenNDSSignature(t *testing.T) {
	const hid = "d4f5a1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
	plain := "hid=" + hid + ", clientip=192.168.8.23, clientmac=da:a1:19:5e:00:01, client_type=cpd_can, cpi_query=, " +
		"gatewayname=openNDS%20Markt, gatewayurl=http%3A%2F%2Fstatus.client, version=10.2.0, gatewayaddress=192.168.8.1:2050, " +
		"gatewaymac=00:11:22:33:44:55, authdir=opennds_auth, originurl=http%3A%2F%2Fexample.org%2F, clientif=br-lan, themespec=, "
	cfg := testCfg()
	cfg.OpenNDSKey = ""
	cfg.AccessPoints = []AccessPoint{
		{Name: "markt", Network: netip.MustParsePrefix("192.168.8.1/32"), Vendor: OpenNDS, Location: "markt", FASKey: "markt-faskey-0123456789"},
		{Name: "level1", Network: netip.MustParsePrefix("192.168.9.1/32"), Vendor: OpenNDS, FASKey: "level1-key", RequireSignature: boolp(false)},
	}
	cfg.APNetworks = append(cfg.APNetworks, netip.MustParsePrefix("192.168.9.0/24"))
	const iv = "a1b2c3d4e5f6a7b8"
	level3 := func(plain, key string) Query {
		return query("fas=" + url.QueryEscape(OpenNDSEncrypt(plain, iv, key)) + "&iv=" + iv)
	}

	a, invalid := opennds{}.Parse(level3(plain, "markt-faskey-0123456789"), cfg)
	if invalid != 0 || a.Signature != SignatureValid || !a.SignatureRequired || a.AccessPoint != "markt" || a.Location != "markt" {
		t.Fatalf("level 3: %v required %v, %+v", a.Signature, a.SignatureRequired, a)
	}
	step, err := opennds{}.Authorize(context.Background(), a, cfg, cred)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(step.URL)
	if u.Query().Get("tok") != OpenNDSToken(hid, "markt-faskey-0123456789") {
		t.Errorf("tok %s not hashed with the gateway's faskey", u.Query().Get("tok"))
	}

	// Level 1: the fas is written raw into the query, so its '+' come as
	// spaces. The parameters decode, but nothing signs them.
	b64 := base64.StdEncoding.EncodeToString([]byte(plain + "custom=~~>")) // a custom parameter (fas.rst)
	if !strings.Contains(b64, "+") {
		t.Fatalf("test fas %q has no '+'", b64)
	}
	level1 := query("fas=" + b64) // unescaped, as openNDS sends it
	a, invalid = opennds{}.Parse(level1, cfg)
	if invalid != 0 || !a.HasMAC || a.Signature != Unsigned || !a.SignatureRequired {
		t.Fatalf("level 1 with '+': invalid %d, %v required %v", invalid, a.Signature, a.SignatureRequired)
	}
	if a.Params.Get("fas") != b64 {
		t.Errorf("carried fas %q, want the '+' restored", a.Params.Get("fas"))
	}
	lvl1 := strings.ReplaceAll(plain, "192.168.8.1:2050", "192.168.9.1:2050")
	a, _ = opennds{}.Parse(query("fas="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(lvl1)))), cfg)
	if a.Signature != Unsigned || a.SignatureRequired || a.AccessPoint != "level1" || a.LoginURL == "" {
		t.Errorf("level 1 at a gateway with require_signature false: %v required %v, %+v", a.Signature, a.SignatureRequired, a)
	}

	// Encrypted with another gateway's key, or for another gateway's
	// address: refused.
	if a, _ := (opennds{}).Parse(level3(plain, "level1-key"), cfg); a.Signature != SignatureInvalid || !a.SignatureRequired {
		t.Errorf("markt's arrival encrypted with level1's key: %v required %v", a.Signature, a.SignatureRequired)
	}
	if a, _ := (opennds{}).Parse(level3(plain, "unknown-key"), cfg); a.Signature != SignatureInvalid || !a.SignatureRequired || a.HasMAC {
		t.Errorf("unknown key: %v required %v, %+v", a.Signature, a.SignatureRequired, a)
	}

	// CBC bit flipping: change the client MAC without the key. The block
	// before it decrypts to noise, which the strict parse refuses.
	ct, _ := base64.StdEncoding.DecodeString(OpenNDSEncrypt(plain, iv, "markt-faskey-0123456789"))
	ct, _ = base64.StdEncoding.DecodeString(string(ct))
	off := strings.Index(plain, "clientmac=") + len("clientmac=") + len("da:a1:19:5e:00:0")
	blk := off / 16
	if blk == 0 {
		t.Fatal("MAC in the first block")
	}
	ct[(blk-1)*16+off%16] ^= '1' ^ '2' // …:01 → …:02
	forged := base64.StdEncoding.EncodeToString([]byte(base64.StdEncoding.EncodeToString(ct)))
	if a, _ := (opennds{}).Parse(query("fas="+url.QueryEscape(forged)+"&iv="+iv), cfg); a.Signature == SignatureValid || a.HasMAC {
		t.Errorf("bit-flipped ciphertext accepted: %v, MAC %v", a.Signature, a.ClientMAC)
	}
}

// TestOpenNDSAlwaysSendsRedir: openNDS answers 403 to an auth request
// without redir (http_microhttpd.c:1263-1267), so the step always has one.
func TestOpenNDSAlwaysSendsRedir(t *testing.T) {
	const hid = "d4f5a1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
	plain := "hid=" + hid + ", clientip=192.168.8.23, clientmac=da:a1:19:5e:00:01, gatewayname=gw, gatewayaddress=192.168.8.1:2050, originurl=, clientif=br-lan"
	cfg := testCfg()
	a, _ := opennds{}.Parse(query("fas="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(plain)))), cfg)
	step, err := opennds{}.Authorize(context.Background(), a, cfg, cred)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(step.URL)
	if !u.Query().Has("redir") || u.Query().Get("redir") == "" {
		t.Errorf("auth URL %s has no redir", step.URL)
	}
}

// FuzzSignedRedirect: whatever URL arrives as ParamRedirect, parsing does
// not panic, and an arrival that verifies is carried as the signed URL
// alone and verifies again, to the same device, from the form.
func FuzzSignedRedirect(f *testing.F) {
	for _, s := range []string{
		chilliRedirect("https://wlan.example-stadt.de/", "bahnhof-uam-secret", "DA-A1-19-5E-00-01", "http://example.org/"),
		chilliRedirect("http://10.99.0.2:8080/", "site-default-secret", "DA-A1-19-5E-00-01", ""),
		uspotRedirect("https://wlan.example-stadt.de/", "bahnhof-uam-secret", "Stadt WLAN"),
		"http://x/?uamip=10.1.0.1&md=00000000000000000000000000000000",
		"?&md=&md=",
	} {
		f.Add(s)
	}
	cfg := sigCfg()
	f.Fuzz(func(t *testing.T, raw string) {
		ad := Detect(redirectQuery(raw))
		a, _ := ad.Parse(redirectQuery(raw), cfg)
		if a.Signature != SignatureValid || ad.Name() != Coova {
			return
		}
		carried := a.Params.Get(ParamRedirect)
		if len(a.Params) != 1 || carried == "" {
			t.Fatalf("valid arrival carries %v", a.Params)
		}
		form := url.Values{ParamRedirect: {carried}}
		b, _ := coova{}.Parse(form.Get, cfg)
		if b.Signature != SignatureValid || b.ClientMAC != a.ClientMAC || b.HasMAC != a.HasMAC ||
			b.LoginURL != a.LoginURL || b.ContinueURL != a.ContinueURL || b.key != a.key {
			t.Fatalf("carried %q re-parses to %+v, was %+v", carried, b, a)
		}
	})
}
