package vendor

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// testCfg has the access points of the tests' real-looking redirects: the
// documentation examples' addresses (CoovaChilli's 10.1.0.1, MikroTik's
// 10.5.50.1, openNDS's 192.168.8.1, Cisco's virtual 192.0.2.1).
func testCfg() *Config {
	return &Config{
		APNetworks: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.8.0/24"),
			netip.MustParsePrefix("192.0.2.0/24"),
		},
		LoginHosts:     []string{"hotspot.stadt.example"},
		CoovaUAMSecret: "uamsecret",
		OpenNDSKey:     "1234567890",
	}
}

var cred = Credentials{Username: "0123456789abcdef0123456789abcdef", Password: "5e2b8f0c1d3a4b6c7d8e9f00", Seconds: 3600}

func query(raw string) Query {
	v, err := url.ParseQuery(raw)
	if err != nil {
		panic(err)
	}
	return v.Get
}

func fields(fs []Field) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

func TestDetect(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"generic", "client_mac=aa-bb-cc-dd-ee-01&ssid=WiFi4EU", Generic},
		{"coova", "res=notyet&uamip=10.1.0.1&uamport=3990&challenge=00112233445566778899aabbccddeeff", Coova},
		{"cisco", "switch_url=https://192.0.2.1/login.html&wlan=Gast", Cisco},
		{"meraki sign-on", "login_url=https%3A%2F%2Fn143.network-auth.com%2Fsplash%2Flogin&continue_url=http%3A%2F%2Fx.example%2F", Meraki},
		{"meraki click", "base_grant_url=https%3A%2F%2Fn143.network-auth.com%2Fsplash%2Fgrant", Meraki},
		{"aruba", "cmd=login&mac=aa:bb:cc:dd:ee:01&essid=WiFi4EU", Aruba},
		{"mikrotik", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin", MikroTik},
		{"opennds", "fas=Y2xpZW50aXA9", OpenNDS},
		{"unifi", "id=aa:bb:cc:dd:ee:01&ap=00:11:22:33:44:55&t=1700000000", UniFi},
		{"omada eap", "clientMac=DA-A1-19-5E-00-01&apMac=AC-84-C6-12-34-56&ssidName=WiFi4EU&t=1700000000&radioId=1&site=Default&redirectUrl=http%3A%2F%2Fx.example%2F", Omada},
		{"omada gateway", "clientMac=DA-A1-19-5E-00-01&gatewayMac=AC-84-C6-12-34-57&vid=20&t=1700000000&site=Default", Omada},
		// Omada's External RADIUS mode (FAQ 2912) is another protocol.
		{"omada radius web portal", "target=10.20.8.1&targetPort=8088&clientMac=DA-A1-19-5E-00-01&apMac=AC-84-C6-12-34-56&ssidName=WiFi4EU&radioId=1&originUrl=http%3A%2F%2Fx.example%2F", Generic},
		{"aruba instant on", "cmd=Login&mac=da:a1:19:5e:00:01&ip=10.2.3.4&network=WiFi4EU&apmac=24:de:c6:12:34:56&site=Bahnhof&post=captiveportal-login.arubainstanton.com&url=http%3A%2F%2Fx.example%2F", Aruba},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect(query(tc.raw)).Name(); got != tc.want {
				t.Errorf("Detect = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCoova: CoovaChilli's redirect (coova.github.io, "UAM redirect") and
// the /logon a CHAP login sends the browser to, checked against RFC 1994 as
// chilli computes it with a uamsecret (chilli_response(1)).
func TestCoova(t *testing.T) {
	raw := "res=notyet&uamip=10.1.0.1&uamport=3990&challenge=f1d5a54b9f2a49c3b0f0e0d0c0b0a090" +
		"&called=00-0D-B9-12-34-56&mac=DA-A1-19-5E-00-01&ip=10.1.0.7&nasid=nas-bahnhof&sessionid=5f1c2d3e00000001" +
		"&userurl=http%3A%2F%2Fexample.org%2F&md=0123456789ABCDEF0123456789ABCDEF"
	cfg := testCfg()
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), cfg)
	if invalid != 0 || !a.HasMAC || a.ClientMAC.String() != "da:a1:19:5e:00:01" || a.APMAC.String() != "00:0d:b9:12:34:56" ||
		a.NASID != "nas-bahnhof" || a.ClientIP != netip.MustParseAddr("10.1.0.7") || a.LoginURL != "http://10.1.0.1:3990/logon" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, err := ad.Authorize(context.Background(), a, cfg, cred)
	if err != nil || step.Kind != StepRedirect {
		t.Fatalf("step %+v, %v", step, err)
	}
	u, _ := url.Parse(step.URL)
	chal, _ := hex.DecodeString("f1d5a54b9f2a49c3b0f0e0d0c0b0a090")
	h := md5.New()
	h.Write(chal)
	h.Write([]byte("uamsecret"))
	newChal := h.Sum(nil)
	h = md5.New()
	h.Write([]byte{0})
	h.Write([]byte(cred.Password))
	h.Write(newChal)
	want := hex.EncodeToString(h.Sum(nil))
	q := u.Query()
	if u.Host != "10.1.0.1:3990" || u.Path != "/logon" || q.Get("username") != cred.Username ||
		q.Get("response") != want || q.Get("userurl") != "http://example.org/" || q.Has("password") {
		t.Errorf("logon URL %s, want response %s", step.URL, want)
	}

	// PAP: the password XORed with the hashed challenge, 16 octets.
	cfg.CoovaPAP = true
	short := cred
	short.Password = "0123456789abcdef"
	step, err = ad.Authorize(context.Background(), a, cfg, short)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = url.Parse(step.URL)
	pw, _ := hex.DecodeString(u.Query().Get("password"))
	for i := range pw {
		pw[i] ^= newChal[i]
	}
	if string(pw) != short.Password {
		t.Errorf("PAP password decodes to %q", pw)
	}
	if _, err := ad.Authorize(context.Background(), a, cfg, cred); err == nil {
		t.Error("PAP with a 24-octet password: want an error (chilli decodes 16)")
	}
}

// TestMikroTik: a hotspot login page's variables (MikroTik wiki, "Hotspot
// customisation": $(link-login-only), $(chap-id), $(chap-challenge) octal).
func TestMikroTik(t *testing.T) {
	raw := `link-login-only=http%3A%2F%2F10.5.50.1%2Flogin&mac=DA%3AA1%3A19%3A5E%3A00%3A01&ip=10.5.50.254` +
		`&chap-id=%5C357&chap-challenge=%5C052%5C211%5C315%5C001%5C377%5C000%5C100%5C123%5C055%5C212%5C303%5C044%5C065%5C166%5C227%5C110` +
		`&link-orig=http%3A%2F%2Fexample.org%2F&identity=MikroTik-Bahnhof`
	cfg := testCfg()
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), cfg)
	if ad.Name() != MikroTik || invalid != 0 || a.ChapID != 0o357 || len(a.Challenge) != 16 || a.LoginURL != "http://10.5.50.1/login" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, err := ad.Authorize(context.Background(), a, cfg, cred)
	if err != nil || step.Kind != StepForm || step.URL != "http://10.5.50.1/login" {
		t.Fatalf("step %+v, %v", step, err)
	}
	chal := []byte{0o52, 0o211, 0o315, 0o1, 0o377, 0, 0o100, 0o123, 0o55, 0o212, 0o303, 0o44, 0o65, 0o166, 0o227, 0o110}
	sum := md5.Sum(append(append([]byte{0o357}, cred.Password...), chal...))
	f := fields(step.Fields)
	if f["username"] != cred.Username || f["password"] != hex.EncodeToString(sum[:]) || f["dst"] != "http://example.org/" || f["popup"] != "false" {
		t.Errorf("fields %v, want password %x", f, sum)
	}
}

func TestCisco(t *testing.T) {
	// Cisco WLC external web-auth (Cisco "Wireless LAN Controller Web
	// Authentication Configuration Example").
	raw := "switch_url=https://192.0.2.1/login.html&ap_mac=00:11:22:33:44:55&client_mac=da:a1:19:5e:00:01&wlan=WiFi4EU&redirect=www.example.org/news"
	cfg := testCfg()
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), cfg)
	if invalid != 0 || a.SSID != "WiFi4EU" || a.ContinueURL != "http://www.example.org/news" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, err := ad.Authorize(context.Background(), a, cfg, cred)
	f := fields(step.Fields)
	if err != nil || step.Kind != StepForm || step.URL != "https://192.0.2.1/login.html" ||
		f["buttonClicked"] != "4" || f["username"] != cred.Username || f["password"] != cred.Password || f["redirect_url"] != "http://www.example.org/news" {
		t.Errorf("step %+v, %v", step, err)
	}
}

func TestMeraki(t *testing.T) {
	// Meraki "Sign-on with RADIUS" and "Click-through" external splash
	// (Meraki docs, "External captive portal (EXCAP)").
	signOn := "login_url=https%3A%2F%2Fn143.network-auth.com%2Fsplash%2Flogin%3Fmauth%3DMMa9xPqgz8%26continue_url%3Dhttp%253A%252F%252Fexample.org%252F" +
		"&continue_url=http%3A%2F%2Fexample.org%2F&ap_mac=00:18:0a:12:34:56&ap_name=Bahnhof-AP1&ap_tags=bahnhof&client_mac=da:a1:19:5e:00:01&client_ip=10.110.154.195"
	cfg := testCfg()
	ad := Detect(query(signOn))
	a, invalid := ad.Parse(query(signOn), cfg)
	if invalid != 0 || a.Click || !strings.HasPrefix(a.LoginURL, "https://n143.network-auth.com/splash/login?mauth=") {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, _ := ad.Authorize(context.Background(), a, cfg, cred)
	f := fields(step.Fields)
	if step.Kind != StepForm || step.URL != a.LoginURL || f["username"] != cred.Username || f["password"] != cred.Password || f["success_url"] != "http://example.org/" {
		t.Errorf("sign-on step %+v", step)
	}

	click := "base_grant_url=https%3A%2F%2Fn143.network-auth.com%2Fsplash%2Fgrant&user_continue_url=http%3A%2F%2Fexample.org%2F&node_id=149624921787028&node_mac=00:18:0a:12:34:56&gateway_id=149624921787028&client_ip=10.110.154.195&client_mac=da:a1:19:5e:00:01"
	a, invalid = ad.Parse(query(click), cfg)
	if invalid != 0 || !a.Click {
		t.Fatalf("click arrival %+v, invalid %d", a, invalid)
	}
	step, _ = ad.Authorize(context.Background(), a, cfg, cred)
	u, _ := url.Parse(step.URL)
	if step.Kind != StepRedirect || u.Host != "n143.network-auth.com" || u.Path != "/splash/grant" ||
		u.Query().Get("continue_url") != "http://example.org/" || u.Query().Get("duration") != "3600" {
		t.Errorf("click step %+v", step)
	}
	// A grant URL elsewhere is an open redirect.
	evil := strings.Replace(click, "n143.network-auth.com", "network-auth.com.evil.example", 1)
	if a, invalid := ad.Parse(query(evil), cfg); a.LoginURL != "" || invalid == 0 {
		t.Errorf("foreign grant URL accepted: %+v", a)
	}
}

func TestAruba(t *testing.T) {
	// Aruba Instant external captive portal redirect (Aruba Instant User
	// Guide, "External captive portal").
	raw := "cmd=login&mac=da:a1:19:5e:00:01&essid=WiFi4EU&ip=10.2.3.4&apname=Bahnhof-IAP&apmac=24:de:c6:12:34:56&vcname=instant-C4:42:98&switchip=securelogin.arubanetworks.com&url=http%3A%2F%2Fexample.org%2F"
	cfg := testCfg()
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), cfg)
	if ad.Name() != Aruba || invalid != 0 || a.LoginURL != "https://securelogin.arubanetworks.com/cgi-bin/login" || a.SSID != "WiFi4EU" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, _ := ad.Authorize(context.Background(), a, cfg, cred)
	f := fields(step.Fields)
	if step.Kind != StepForm || f["user"] != cred.Username || f["password"] != cred.Password || f["cmd"] != "authenticate" {
		t.Errorf("step %+v", step)
	}
}

// TestOpenNDS: level 1 (base64) and level 3 (AES-256-CBC with the faskey) as
// openNDS's FAS scripts (fas-aes.php) read them; the tok is
// sha256(hid ‖ faskey).
func TestOpenNDS(t *testing.T) {
	const hid = "d4f5a1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
	plain := "clientip=192.168.8.23, clientmac=da:a1:19:5e:00:01, client_type=cpd_can, gatewayname=openNDS%20Bahnhof, " +
		"version=10.1.3, hid=" + hid + ", gatewayaddress=192.168.8.1:2050, gatewaymac=00:11:22:33:44:55, authdir=opennds_auth, " +
		"originurl=http%3A%2F%2Fexample.org%2F, clientif=br-lan"
	sum := sha256Hex(hid + "1234567890")
	cfg := testCfg()
	for _, level := range []struct {
		name, raw string
	}{
		{"level 1", "fas=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(plain)))},
		{"level 3", "fas=" + url.QueryEscape(OpenNDSEncrypt(plain, "a1b2c3d4e5f6a7b8", "1234567890")) + "&iv=a1b2c3d4e5f6a7b8"},
	} {
		t.Run(level.name, func(t *testing.T) {
			ad := Detect(query(level.raw))
			a, invalid := ad.Parse(query(level.raw), cfg)
			if ad.Name() != OpenNDS || invalid != 0 || a.ClientMAC.String() != "da:a1:19:5e:00:01" ||
				a.LoginURL != "http://192.168.8.1:2050/opennds_auth/" || a.ContinueURL != "http://example.org/" {
				t.Fatalf("arrival %+v, invalid %d", a, invalid)
			}
			step, err := ad.Authorize(context.Background(), a, cfg, cred)
			if err != nil || step.Kind != StepRedirect {
				t.Fatal(step, err)
			}
			u, _ := url.Parse(step.URL)
			if u.Host != "192.168.8.1:2050" || u.Query().Get("tok") != sum || u.Query().Get("redir") != "http://example.org/" {
				t.Errorf("auth URL %s, want tok %s", step.URL, sum)
			}
		})
	}
	// Level 3 with another faskey does not decrypt: refused.
	raw := "fas=" + url.QueryEscape(OpenNDSEncrypt(plain, "a1b2c3d4e5f6a7b8", "wrong-key")) + "&iv=a1b2c3d4e5f6a7b8"
	a, invalid := opennds{}.Parse(query(raw), cfg)
	if invalid == 0 || a.LoginURL != "" || a.HasMAC {
		t.Errorf("wrong faskey accepted: %+v", a)
	}
}

func sha256Hex(s string) string { return OpenNDSToken(s, "") }

func TestMACAuth(t *testing.T) {
	ad, _ := Get(MACAuth)
	a, _ := ad.Parse(query("client_mac=da:a1:19:5e:00:01&url=http%3A%2F%2Fexample.org%2F"), testCfg())
	step, err := ad.Authorize(context.Background(), a, testCfg(), cred)
	if err != nil || !step.Reauthorize || step.Kind != StepContinue || step.URL != "http://example.org/" {
		t.Errorf("step %+v, %v", step, err)
	}
}

// TestLoginURLOnlyToAccessPoints: every vendor's login URL pointing
// elsewhere is refused (and counted), so the portal never redirects or
// posts credentials to a host of the attacker's choosing.
func TestLoginURLOnlyToAccessPoints(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"coova", "uamip=203.0.113.9&uamport=3990&challenge=00112233445566778899aabbccddeeff"},
		{"cisco", "switch_url=https://evil.example/login.html"},
		{"cisco javascript", "switch_url=javascript:alert(1)"},
		{"meraki", "login_url=https%3A%2F%2Fevil.example%2Flogin&continue_url=http%3A%2F%2Fx.example%2F"},
		{"aruba", "cmd=login&essid=x&switchip=evil.example"},
		{"mikrotik", "link-login-only=http%3A%2F%2F203.0.113.9%2Flogin"},
		{"mikrotik userinfo", "link-login-only=http%3A%2F%2F10.5.50.1%40evil.example%2Flogin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ad := Detect(query(tc.raw))
			a, invalid := ad.Parse(query(tc.raw), testCfg())
			if a.LoginURL != "" || invalid == 0 {
				t.Errorf("%s: login URL %q accepted (invalid %d)", ad.Name(), a.LoginURL, invalid)
			}
			if _, err := ad.Authorize(context.Background(), a, testCfg(), cred); err == nil {
				t.Errorf("%s: authorised without a login URL", ad.Name())
			}
		})
	}
}

func TestMikroTikOctets(t *testing.T) {
	cases := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{`\357`, []byte{0o357}, false},
		{`\000\377ab`, []byte{0, 0o377, 'a', 'b'}, false},
		{`\9`, nil, true},
		{`\400`, nil, true},
		{"\x01", nil, true},
	}
	for _, tc := range cases {
		got, err := MikroTikOctets(tc.in)
		if (err != nil) != tc.wantErr || string(got) != string(tc.want) {
			t.Errorf("MikroTikOctets(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"client_mac=aa-bb-cc-dd-ee-01&url=http://x.example/",
		"uamip=10.1.0.1&uamport=3990&challenge=00112233445566778899aabbccddeeff&mac=aa-bb-cc-dd-ee-01",
		"link-login-only=http://10.5.50.1/login&chap-id=\\357&chap-challenge=\\001",
		"fas=Y2xpZW50aXA9&iv=a1b2c3d4e5f6a7b8",
		"switch_url=https://192.0.2.1/login.html&redirect=www.x.example/&statusCode=5",
		"id=aa:bb:cc:dd:ee:01&ap=00:11:22:33:44:55&t=1700000000&url=http://x.example/&ssid=WiFi4EU",
		"clientMac=DA-A1-19-5E-00-01&apMac=AC-84-C6-12-34-56&ssidName=WiFi4EU&t=1&radioId=1&site=Default&redirectUrl=http://x.example/",
		"clientMac=DA-A1-19-5E-00-01&gatewayMac=AC-84-C6-12-34-57&vid=20&t=1&site=5f1c2d3e4a5b6c7d8e9f0a1b",
		"cmd=Login&mac=da:a1:19:5e:00:01&network=WiFi4EU&site=Bahnhof&post=captiveportal-login.arubainstanton.com",
		"link-login-only=http://10.5.50.1/login&link-login=https://hotspot.stadt.example/login?dst=x",
		"ap_redirect=" + url.QueryEscape(chilliRedirect("https://p.example/", "uamsecret", "DA-A1-19-5E-00-01", "http://x.example/")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cfg := testCfg()
		for _, name := range Names() {
			ad, _ := Get(name)
			a, _ := ad.Parse(v.Get, cfg)
			if a.LoginURL != "" {
				u, err := url.Parse(a.LoginURL)
				if err != nil || !cfg.allowedHost(u.Hostname(), merakiHosts[0], arubaHosts[0], instantOnHosts[0]) {
					t.Fatalf("%s: login URL %q outside the access points", name, a.LoginURL)
				}
			}
			if a.ContinueURL != "" {
				if _, ok := ContinueURL(a.ContinueURL); !ok {
					t.Fatalf("%s: continue URL %q unsafe", name, a.ContinueURL)
				}
			}
			if a.LoginRefused && a.LoggedIn {
				t.Fatalf("%s: arrival both logged in and refused", name)
			}
			// The arrival carried through the splash form parses to the
			// same one, and its step leads only to the access points.
			// (Refused parameters may be counted again: coova keeps a
			// uamip whose login URL it refused.)
			again, invalid := ad.Parse(a.Params.Get, cfg)
			if again.LoginURL != a.LoginURL || again.ContinueURL != a.ContinueURL || again.ClientMAC != a.ClientMAC {
				t.Fatalf("%s: kept parameters %v parse to %+v (invalid %d), first %+v", name, a.Params, again, invalid, a)
			}
			step, err := ad.Authorize(context.Background(), a, cfg, cred)
			if err != nil || step.URL == "" || step.Kind == StepContinue {
				continue
			}
			u, perr := url.Parse(step.URL)
			if perr != nil || !cfg.allowedHost(u.Hostname(), merakiHosts[0], arubaHosts[0], instantOnHosts[0]) {
				t.Fatalf("%s: step URL %q outside the access points", name, step.URL)
			}
		}
	})
}

func TestGetAliases(t *testing.T) {
	// The names of roamgate/apfamily, which radius.clients[].vendor uses
	// too: implementations and aliases resolve to their family's adapter.
	for name, want := range map[string]string{"coova": Coova, "chillispot": Coova, "chilli": Coova, "coovachilli": Coova,
		"uspot": Coova, "openwrt": MACAuth, "hostapd": MACAuth, "mac-auth": MACAuth, "unifi": UniFi, "wispr": Generic,
		"omada": Omada, "tp-link": Omada, "aruba-instant-on": Aruba} {
		if a, ok := Get(name); !ok || a.Name() != want {
			t.Errorf("Get(%q) = %v, %v; want %s", name, a, ok, want)
		}
	}
	if _, ok := Get("ruckus"); ok || Known("ruckus") {
		t.Error(`"ruckus" names no adapter`)
	}
}

// TestCiscoStatusCode: the WLC sends the device back with statusCode after
// a login (Cisco's sample login.html, see cisco in uam.go): 1 and 2 need
// nothing more, 3 to 5 are a refused login.
func TestCiscoStatusCode(t *testing.T) {
	base := "switch_url=https://192.0.2.1/login.html&ap_mac=00:11:22:33:44:55&client_mac=da:a1:19:5e:00:01&wlan=WiFi4EU&redirect=www.example.org/news"
	for _, tc := range []struct {
		code              string
		loggedIn, refused bool
	}{
		{"", false, false}, {"0", false, false}, {"1", true, false}, {"2", true, false},
		{"3", false, true}, {"4", false, true}, {"5", false, true}, {"6", false, true},
	} {
		raw := base
		if tc.code != "" {
			raw += "&statusCode=" + tc.code
		}
		a, invalid := cisco{}.Parse(query(raw), testCfg())
		if a.LoggedIn != tc.loggedIn || a.LoginRefused != tc.refused || invalid != 0 {
			t.Errorf("statusCode=%s: LoggedIn %v, LoginRefused %v, invalid %d", tc.code, a.LoggedIn, a.LoginRefused, invalid)
		}
	}
	if a, invalid := (cisco{}).Parse(query(base+"&statusCode=x1"), testCfg()); a.LoginRefused || a.LoggedIn || invalid != 1 {
		t.Errorf("malformed statusCode: %+v, invalid %d", a, invalid)
	}
}

// TestArubaInstantOn: Instant On's redirect ("Aruba Instant On External
// Captive Portal — Configuration & Parameters": cmd=Login, mac, ip,
// network, apmac, site, post, url) and the POST to https://<post>/cgi-bin/login.
func TestArubaInstantOn(t *testing.T) {
	raw := "cmd=Login&mac=da:a1:19:5e:00:01&ip=10.2.3.4&network=WiFi4EU&apmac=24:de:c6:12:34:56&site=Bahnhof+Nord&post=captiveportal-login.arubainstanton.com&url=http%3A%2F%2Fexample.org%2F"
	cfg := testCfg()
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), cfg)
	if ad.Name() != Aruba || invalid != 0 || a.SSID != "WiFi4EU" || a.NASID != "Bahnhof Nord" || !a.HasMAC || !a.HasAP ||
		a.LoginURL != "https://captiveportal-login.arubainstanton.com/cgi-bin/login" || a.ContinueURL != "http://example.org/" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, err := ad.Authorize(context.Background(), a, cfg, cred)
	f := fields(step.Fields)
	if err != nil || step.Kind != StepForm || step.URL != a.LoginURL || f["cmd"] != "authenticate" || f["user"] != cred.Username ||
		f["password"] != cred.Password || f["url"] != "http://example.org/" {
		t.Errorf("step %+v, %v", step, err)
	}
	// Carried through the splash form and parsed again: the same arrival.
	again, _ := ad.Parse(a.Params.Get, cfg)
	if again.LoginURL != a.LoginURL || again.SSID != a.SSID {
		t.Errorf("re-parsed %+v", again)
	}
	// A post host that is no access point and not Instant On's: refused.
	evil := strings.Replace(raw, "captiveportal-login.arubainstanton.com", "evil.example", 1)
	if a, invalid := ad.Parse(query(evil), cfg); a.LoginURL != "" || invalid == 0 {
		t.Errorf("foreign post host accepted: %+v", a)
	}
	// Without post Instant On names no login host: none is invented.
	nopost := strings.Replace(raw, "&post=captiveportal-login.arubainstanton.com", "", 1)
	if a, _ := ad.Parse(query(nopost), cfg); a.LoginURL != "" {
		t.Errorf("login URL without post: %q", a.LoginURL)
	}
}

// TestMikroTikHTTPS: a hotspot with login-by=https hands out https login
// links; the step posts there even when the http one comes first.
func TestMikroTikHTTPS(t *testing.T) {
	cfg := testCfg()
	cases := []struct{ name, raw, want string }{
		{"https only-link", "link-login-only=https%3A%2F%2Fhotspot.stadt.example%2Flogin", "https://hotspot.stadt.example/login"},
		{"https link-login beside http link-login-only", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin&link-login=https%3A%2F%2Fhotspot.stadt.example%2Flogin%3Fdst%3Dhttp%253A%252F%252Fexample.org%252F", "https://hotspot.stadt.example/login"},
		{"http only", "link-login-only=http%3A%2F%2F10.5.50.1%2Flogin&link-login=http%3A%2F%2F10.5.50.1%2Flogin%3Fdst%3Dx", "http://10.5.50.1/login"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw + "&mac=DA%3AA1%3A19%3A5E%3A00%3A01&chap-id=%5C357&chap-challenge=%5C052%5C211"
			a, invalid := mikrotik{}.Parse(query(raw), cfg)
			if invalid != 0 || a.LoginURL != tc.want {
				t.Fatalf("login URL %q (invalid %d), want %q", a.LoginURL, invalid, tc.want)
			}
			step, err := mikrotik{}.Authorize(context.Background(), a, cfg, cred)
			if err != nil || step.URL != tc.want || !step.Query {
				t.Errorf("step %+v, %v", step, err)
			}
			again, _ := mikrotik{}.Parse(a.Params.Get, cfg)
			if again.LoginURL != tc.want {
				t.Errorf("re-parsed login URL %q", again.LoginURL)
			}
		})
	}
}
