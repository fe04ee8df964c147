package portal

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"roamgate/session"
)

func TestContinueURL(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" with ok false means refused
		ok   bool
	}{
		{"", "", true},
		{"https://example.org/", "https://example.org/", true},
		{"http://example.org", "http://example.org", true},
		{"HTTPS://Example.org/a?b=c#d", "https://Example.org/a?b=c#d", true},
		{"https://example.org:8443/x", "https://example.org:8443/x", true},
		{"http://192.0.2.1/", "http://192.0.2.1/", true},
		{"http://[2001:db8::1]:80/", "http://[2001:db8::1]:80/", true},
		{"https://example.org/a%20b", "https://example.org/a%20b", true},
		{"https://ex%61mple.org/", "", false},
		{"javascript:alert(1)", "", false},
		{"JaVaScRiPt:alert(1)", "", false},
		{"data:text/html;base64,PHNjcmlwdD4=", "", false},
		{"//evil.example/", "", false},
		{"/relative", "", false},
		{"https:evil.example", "", false},
		{"https:/evil.example", "", false},
		{"http:///path", "", false},
		{"ftp://example.org/", "", false},
		{"https://user:pw@example.org/", "", false},
		{"https://user@example.org/", "", false},
		{"https://example.org\\@evil.example/", "", false},
		{"https://example.org/\r\nSet-Cookie:x", "", false},
		{"https://example.org/a b", "", false},
		{"https://example.org/\"><script>", "", false},
		{"https://exämple.org/", "", false},
		{"https://example.org:99999/", "", false},
		{"https://example.org:0/", "", false},
		{"https://example.org:/", "", false},
		{"https://[fe80::1%25eth0]/", "", false},
		{"https://exa_mple..org/", "", false},
		{"https://" + strings.Repeat("a", 64) + ".org/", "", false},
		{"https://example.org/" + strings.Repeat("a", maxURL), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := continueURL(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("continueURL(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"", true},
		{"WiFi4EU", true},
		{"Café Brückerfeld ☕", true},
		{"<b>bold</b>", true}, // escaped on output, not refused
		{strings.Repeat("x", 32), true},
		{strings.Repeat("x", 33), false},
		{strings.Repeat("ü", 17), false}, // 34 bytes
		{"tab\there", false},
		{"nul\x00", false},
		{"c1\u0085", false},
		{"rtl\u202eoverride", false},
		{"isolate\u2066", false},
		{"line\u2028sep", false},
		{"bad\xffutf8", false},
		{"replacement\ufffd", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := cleanText(tc.in, maxSSID)
			if ok != tc.ok || (ok && got != tc.in) || (!ok && got != "") {
				t.Errorf("cleanText(%q) = %q, %v; want ok=%v", tc.in, got, ok, tc.ok)
			}
		})
	}
}

func TestDeviceMAC(t *testing.T) {
	cases := []struct {
		in, want string // want "" means refused
	}{
		{"aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"},
		{"AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"},
		{"aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"},
		{"aabbccddeeff", "aa:bb:cc:dd:ee:ff"},
		{"02:00:00:00:00:01", "02:00:00:00:00:01"},
		{"01:00:5e:00:00:01", ""},
		{"ff:ff:ff:ff:ff:ff", ""},
		{"00:00:00:00:00:00", ""},
		{"aa:bb:cc:dd:ee", ""},
		{"aa:bb:cc:dd:ee:ff:00:11", ""},
		{"gg:bb:cc:dd:ee:ff", ""},
		{"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			m, ok := deviceMAC(tc.in)
			if tc.want == "" {
				if ok {
					t.Errorf("deviceMAC(%q) = %v, want refused", tc.in, m)
				}
				return
			}
			if !ok || m.String() != tc.want {
				t.Errorf("deviceMAC(%q) = %v, %v; want %s", tc.in, m, ok, tc.want)
			}
		})
	}
}

func TestArrivalQuery(t *testing.T) {
	a, invalid := parseArrival(url.Values{
		"client_mac": {"AA-BB-CC-DD-EE-01"}, "ssid": {"Café & Co"}, "url": {"https://example.org/?q=1&r=2"}, "nas_id": {"\x00"},
	}.Get)
	if invalid != 1 {
		t.Errorf("invalid = %d, want 1", invalid)
	}
	q := a.query("en")
	back, err := url.ParseQuery(strings.TrimPrefix(q, "?"))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"client_mac": {"aa:bb:cc:dd:ee:01"}, "ssid": {"Café & Co"}, "url": {"https://example.org/?q=1&r=2"}, "lang": {"en"}}
	if back.Encode() != want.Encode() {
		t.Errorf("query round trip = %v, want %v", back, want)
	}
	if got := (arrival{}).query(""); got != "" {
		t.Errorf("empty arrival query = %q", got)
	}
}

// FuzzSplashParams checks the invariants of arrival validation on arbitrary
// input: it never panics, whatever it keeps is within its limits and free of
// control characters, a kept continue URL is an absolute http(s) URL without
// credentials, and validating the result again changes nothing.
func FuzzSplashParams(f *testing.F) {
	f.Add("aa:bb:cc:dd:ee:ff", "0011.2233.4455", "WiFi4EU", "nas-1", "https://example.org/a?b=c")
	f.Add("<script>", "zz", "\x00\u202e", strings.Repeat("n", 300), "javascript:alert(1)")
	f.Add("", "", "Brückerfeld", "", "//evil.example")
	f.Add("01:00:5e:00:00:01", "", "", "", "https://u:p@example.org/")
	f.Add("AABBCCDDEEFF", "", "", "", "http://[::1]:8080/%41?x#y")
	f.Add("", "", "", "", "https://ex%61mple.org/%zz")
	f.Fuzz(func(t *testing.T, clientMAC, apMAC, ssid, nasID, rawURL string) {
		params := map[string]string{
			paramClientMAC: clientMAC, paramAPMAC: apMAC, paramSSID: ssid, paramNASID: nasID, paramURL: rawURL,
		}
		a, invalid := parseArrival(func(name string) string { return params[name] })
		if invalid < 0 || invalid > 5 {
			t.Fatalf("invalid = %d", invalid)
		}
		if a.HasMAC && (a.ClientMAC.Multicast() || a.ClientMAC.IsZero()) {
			t.Errorf("kept client MAC %v", a.ClientMAC)
		}
		if !a.HasMAC && a.ClientMAC != (session.MAC{}) {
			t.Errorf("refused MAC left a value %v", a.ClientMAC)
		}
		for name, v := range map[string]struct {
			s   string
			max int
		}{"ssid": {a.SSID, maxSSID}, "nas_id": {a.NASID, maxNASID}} {
			if len(v.s) > v.max || !utf8.ValidString(v.s) || strings.ContainsFunc(v.s, unicode.IsControl) {
				t.Errorf("kept %s %q", name, v.s)
			}
		}
		if u := a.ContinueURL; u != "" {
			parsed, err := url.Parse(u)
			if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.User != nil ||
				parsed.Host == "" || len(u) > maxURL || strings.ContainsAny(u, " \t\r\n\\\"<>") {
				t.Errorf("kept continue URL %q", u)
			}
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Errorf("kept continue URL %q does not start with its scheme", u)
			}
		}
		// Kept values pass validation again unchanged: what the splash puts
		// in the form is what POST /connect accepts.
		kept := map[string]string{}
		for _, fld := range a.fields() {
			kept[fld.Name] = fld.Value
		}
		b, again := parseArrival(func(name string) string { return kept[name] })
		if again != 0 || b != a {
			t.Errorf("revalidation changed the arrival: %+v -> %+v (%d refused)", a, b, again)
		}
	})
}
