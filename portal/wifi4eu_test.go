package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

func TestWiFi4EU(t *testing.T) {
	const id = "0b8a7c1e-2f3d-4e5a-9b6c-7d8e9f0a1b2c"
	env := newTestEnv(t, Config{WiFi4EU: WiFi4EUConfig{NetworkIdentifier: id, SelfTest: true}})
	inline := regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	cases := []struct{ name, query, lang string }{
		{"german", testArrival, "de"},
		{"ukrainian", testArrival + "&lang=uk", "uk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := env.get(t, "/"+tc.query)
			head, _, _ := strings.Cut(body, "</head>")
			m := inline.FindStringSubmatch(head)
			if m == nil {
				t.Fatalf("no inline WiFi4EU snippet in <head>:\n%s", head)
			}
			for _, want := range []string{"wifi4euNetworkIdentifier = '" + id + "'", "wifi4euLanguage = '" + tc.lang + "'", "selftestModus = true"} {
				if !strings.Contains(m[1], want) {
					t.Errorf("snippet lacks %q: %s", want, m[1])
				}
			}
			if !strings.Contains(head, `<script src="`+WiFi4EUScriptURL+`" async></script>`) {
				t.Error("the programme's script is not loaded")
			}
			sum := sha256.Sum256([]byte(m[1]))
			csp := resp.Header.Get("Content-Security-Policy")
			hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
			if !strings.Contains(csp, "script-src 'self' "+hash+" "+WiFi4EUScriptURL+";") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q does not allow exactly the snippet (%s) and the script", csp, hash)
			}
			doc := parseHTML(t, body)
			var logo bool
			for _, img := range doc.find("img") {
				logo = logo || (img.attr("alt") == "WiFi4EU" && strings.HasPrefix(img.attr("src"), "/static/wifi4eu.svg"))
			}
			if !logo || !strings.Contains(doc.text, "WiFi4EU") {
				t.Error("no WiFi4EU identity or SSID on the page")
			}
		})
	}
	// Another network: no snippet, the strict policy.
	resp, body := env.get(t, "/?client_mac=DA-A1-19-5E-00-09")
	if strings.Contains(body, "<script") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
		t.Error("a non-WiFi4EU page carries the snippet")
	}
}
