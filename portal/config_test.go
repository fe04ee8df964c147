package portal

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigYAML checks the yaml tags against the keys DESIGN.md documents.
func TestConfigYAML(t *testing.T) {
	const doc = `
listen: "0.0.0.0:80"
languages: [de, en]
terms:
  de: "Bitte benehmen."
  en: https://city.example/terms
trusted_proxies: [10.0.0.0/8]
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	var got Config
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "0.0.0.0:80", Languages: []string{"de", "en"},
		Terms:          map[string]string{"de": "Bitte benehmen.", "en": "https://city.example/terms"},
		TrustedProxies: []string{"10.0.0.0/8"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string // prefix of the error; "" means valid
	}{
		{name: "zero is the default", cfg: Config{}},
		{name: "full", cfg: Config{
			Listen: "127.0.0.1:8080", Languages: []string{"en", "de"},
			Terms:          map[string]string{"de": "Bitte benehmen.", "en": "https://city.example/terms"},
			TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"},
		}},
		{name: "ipv6 listen", cfg: Config{Listen: "[::1]:0"}},
		{name: "listen without port", cfg: Config{Listen: "localhost"}, wantErr: `portal.listen: "localhost": want host:port`},
		{name: "listen bad port", cfg: Config{Listen: ":http2"}, wantErr: `portal.listen: ":http2": port "http2"`},
		{name: "listen port too big", cfg: Config{Listen: ":70000"}, wantErr: "portal.listen:"},
		{name: "unknown language", cfg: Config{Languages: []string{"de", "fr"}}, wantErr: `portal.languages[1]: "fr" has no translations`},
		{name: "not a language", cfg: Config{Languages: []string{"deutsch!"}}, wantErr: `portal.languages[0]: "deutsch!" is not a language tag`},
		{name: "duplicate language", cfg: Config{Languages: []string{"de", "en", "de"}}, wantErr: `portal.languages[2]: "de" is listed twice`},
		{name: "terms for unlisted language", cfg: Config{Languages: []string{"de"}, Terms: map[string]string{"en": "x"}}, wantErr: "portal.terms.en: language is not in portal.languages"},
		{name: "empty terms", cfg: Config{Terms: map[string]string{"de": "  "}}, wantErr: "portal.terms.de: is empty"},
		{name: "vendor", cfg: Config{Vendor: "coova"}},
		{name: "unknown vendor", cfg: Config{Vendor: "ubnt"}, wantErr: `portal.vendor: "ubnt" is not one of`},
		{name: "negative connection cap", cfg: Config{MaxConnsPerClient: -1}, wantErr: "portal.max_conns_per_client: -1 is negative"},
		{name: "login host", cfg: Config{LoginHosts: []string{"hotspot.stadt.example"}}},
		{name: "login host with path", cfg: Config{LoginHosts: []string{"evil.example/x"}}, wantErr: `portal.login_hosts[0]: "evil.example/x" is not a host name`},
		{name: "venue info", cfg: Config{VenueInfoURL: "javascript:alert(1)"}, wantErr: "portal.venue_info_url:"},
		{name: "unifi", cfg: Config{UniFi: UniFiConfig{URL: "https://unifi.stadt.example:8443", Username: "portal", Password: "x"}}},
		{name: "unifi bad url", cfg: Config{UniFi: UniFiConfig{URL: "unifi:8443", Username: "portal", Password: "x"}}, wantErr: `portal.unifi.url: "unifi:8443"`},
		{name: "unifi no account", cfg: Config{UniFi: UniFiConfig{URL: "https://unifi.stadt.example"}}, wantErr: "portal.unifi.username:"},
		{name: "unifi bad site", cfg: Config{UniFi: UniFiConfig{URL: "https://u.example", Username: "a", Password: "b", Site: "a/../b"}}, wantErr: "portal.unifi.site:"},
		{name: "wifi4eu id", cfg: Config{WiFi4EU: WiFi4EUConfig{NetworkIdentifier: "0b8a7c1e-2f3d-4e5a-9b6c-7d8e9f0a1b2c"}}},
		{name: "wifi4eu id injection", cfg: Config{WiFi4EU: WiFi4EUConfig{NetworkIdentifier: "';alert(1);//-0000-0000-000000000000"}}, wantErr: "portal.wifi4eu.network_identifier:"},
		{name: "terms url with credentials", cfg: Config{Terms: map[string]string{"de": "https://user:pw@x.example/"}}, wantErr: "portal.terms.de: "},
		{name: "terms too long", cfg: Config{Terms: map[string]string{"de": strings.Repeat("x", maxTerms+1)}}, wantErr: "portal.terms.de: is 16385 bytes"},
		{name: "bad proxy", cfg: Config{TrustedProxies: []string{"10.0.0.0/8", "10.0.0.0/33"}}, wantErr: `portal.trusted_proxies[1]: "10.0.0.0/33" is not a network or address`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want %q…", err, tc.wantErr)
			}
			if tc.wantErr != "" {
				if _, nerr := New(tc.cfg, Deps{Sessions: newFakeSessions(), JWKS: fakeJWKS{}}); nerr == nil {
					t.Error("New accepted a config Validate refuses")
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Listen != ":8080" || strings.Join(c.Languages, ",") != "de,en,tr,uk,ar" || c.Vendor != "auto" || len(c.TrustedProxies) != 0 {
		t.Errorf("defaults = %+v", c)
	}
}

func TestNewDeps(t *testing.T) {
	cases := []struct {
		name string
		deps Deps
		ok   bool
	}{
		{"minimal", Deps{Sessions: newFakeSessions(), JWKS: fakeJWKS{}}, true},
		{"no sessions", Deps{JWKS: fakeJWKS{}}, false},
		{"no jwks", Deps{Sessions: newFakeSessions()}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Listen: "127.0.0.1:0"}, tc.deps)
			if (err == nil) != tc.ok {
				t.Errorf("New: err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTermsConfigured(t *testing.T) {
	env := newTestEnv(t, Config{Terms: map[string]string{"de": "Nur für Menschen <b>mit</b> Hut.", "en": "https://city.example/terms"}})
	_, body := env.get(t, "/")
	if doc := parseHTML(t, body); !strings.Contains(doc.text, "Nur für Menschen <b>mit</b> Hut.") || strings.Contains(body, "<b>mit") {
		t.Errorf("configured German terms not shown as escaped text:\n%s", body)
	}
	_, body = env.get(t, "/?lang=en")
	var link bool
	for _, a := range parseHTML(t, body).find("a") {
		link = link || a.attr("href") == "https://city.example/terms"
	}
	if !link {
		t.Error("English terms URL is not linked")
	}
}
