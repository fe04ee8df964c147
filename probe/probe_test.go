package probe

import (
	"net/http"
	"strings"
	"testing"
)

func TestChecksAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks {
		key := c.Host + " " + c.Path
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		if c.Host != strings.ToLower(c.Host) || strings.HasSuffix(c.Host, ".") || !strings.Contains(c.Host, ".") {
			t.Errorf("host %q is not a lower-case name without the final dot", c.Host)
		}
		if c.Path != "" && c.Path != "*" && !strings.HasPrefix(c.Path, "/") {
			t.Errorf("%s: path %q", c.Host, c.Path)
		}
		if c.Path != "" && c.Answer.Status != http.StatusOK && c.Answer.Status != http.StatusNoContent {
			t.Errorf("%s%s: status %d", c.Host, c.Path, c.Answer.Status)
		}
		if (c.Answer.Status == http.StatusNoContent) != (c.Answer.Body == "" && c.Answer.ContentType == "") && c.Path != "" {
			t.Errorf("%s%s: a 204 has no body and no type, a 200 has both", c.Host, c.Path)
		}
	}
	if got := len(Hosts()); got != len(seen)-1 { // detectportal.firefox.com has two paths
		t.Errorf("Hosts() has %d hosts for %d checks", got, len(seen))
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		host, path string
		want       Answer
		ok         bool
	}{
		{"captive.apple.com", "/hotspot-detect.html", appleSuccess, true},
		{"captive.apple.com", "/", appleSuccess, true},
		{"www.apple.com", "/library/test/success.html", appleSuccess, true},
		{"www.apple.com", "/iphone/", Answer{}, false}, // the shop is not a check
		{"connectivitycheck.gstatic.com", "/generate_204", noContent, true},
		{"connect.rom.miui.com", "/generate_204", noContent, true}, // an OEM host
		{"www.google.com", "/gen_204", noContent, true},
		{"www.google.com", "/search", Answer{}, false},
		{"www.msftconnecttest.com", "/connecttest.txt", windowsConnect, true},
		{"www.msftncsi.com", "/ncsi.txt", windowsNCSI, true},
		{"detectportal.firefox.com", "/canonical.html", firefoxCanonical, true},
		{"detectportal.firefox.com", "/success.txt", firefoxSuccess, true},
		{"nmcheck.gnome.org", "/check_network_status.txt", networkManager, true},
		{"connectivity-check.ubuntu.com", "/", ubuntu, true},
		{"fedoraproject.org", "/static/hotspot.txt", okText, true},
		{"fedoraproject.org", "/", Answer{}, false},
		{"captive.apple.com.", "/", appleSuccess, true},
		{"news.example", "/", Answer{}, false},
		{"dns.msftncsi.com", "/", Answer{}, false}, // resolved only
	}
	for _, tc := range tests {
		got, ok := Match(tc.host, tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Match(%q, %q) = %+v, %v; want %+v, %v", tc.host, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
