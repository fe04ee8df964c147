package dns

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    captiveConfig
		wantErr string
	}{
		{"minimal: the default limits", "captive {\n sessions s1\n portal_ip 10.0.0.1\n}",
			captiveConfig{sessions: "s1", v4: netip.MustParseAddr("10.0.0.1"), limits: defaultLimits}, ""},
		{"everything", "captive {\n sessions s1\n portal_ip 10.0.0.1\n portal_ipv6 fd00::1\n ttl 5\n walled_garden a.example b.example.\n walled_garden c.example\n}",
			captiveConfig{sessions: "s1", v4: netip.MustParseAddr("10.0.0.1"), v6: netip.MustParseAddr("fd00::1"), ttl: 5,
				garden: []string{"a.example", "b.example.", "c.example"}, limits: defaultLimits}, ""},
		{"limits", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit 20 50\n garden_max_response 900\n}",
			captiveConfig{sessions: "s1", v4: netip.MustParseAddr("10.0.0.1"), limits: Limits{Rate: 20, Burst: 50, GardenMaxResponse: 900}}, ""},
		{"rate without burst: a burst of one second", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit 20\n}",
			captiveConfig{sessions: "s1", v4: netip.MustParseAddr("10.0.0.1"), limits: Limits{Rate: 20, Burst: 20, GardenMaxResponse: DefaultGardenMaxResponse}}, ""},
		{"rate limit off", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit 0\n}",
			captiveConfig{sessions: "s1", v4: netip.MustParseAddr("10.0.0.1"), limits: Limits{Rate: 0, Burst: 1, GardenMaxResponse: DefaultGardenMaxResponse}}, ""},
		{"rate negative", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit -1\n}", captiveConfig{}, "rate_limit \"-1\" is not between 0"},
		{"rate not a number", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit fast\n}", captiveConfig{}, "rate_limit \"fast\""},
		{"burst zero", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit 10 0\n}", captiveConfig{}, "burst \"0\" is not between 1"},
		{"rate three args", "captive {\n sessions s1\n portal_ip 10.0.0.1\n rate_limit 1 2 3\n}", captiveConfig{}, "optional BURST"},
		{"garden cap too small", "captive {\n sessions s1\n portal_ip 10.0.0.1\n garden_max_response 100\n}", captiveConfig{}, "not between 512 and 65535"},
		{"no block", "captive", captiveConfig{}, "sessions NAME is required"},
		{"argument", "captive foo {\n sessions s1\n portal_ip 10.0.0.1\n}", captiveConfig{}, "Wrong argument count"},
		{"no portal", "captive {\n sessions s1\n}", captiveConfig{}, "portal_ip is required"},
		{"portal v6 as v4", "captive {\n sessions s1\n portal_ip fd00::1\n}", captiveConfig{}, "not an IPv4 address"},
		{"portal v4 as v6", "captive {\n sessions s1\n portal_ip 10.0.0.1\n portal_ipv6 10.0.0.2\n}", captiveConfig{}, "not an IPv6 address"},
		{"ttl too long", "captive {\n sessions s1\n portal_ip 10.0.0.1\n ttl 6\n}", captiveConfig{}, "not between 0 and 5"},
		{"ttl negative", "captive {\n sessions s1\n portal_ip 10.0.0.1\n ttl -1\n}", captiveConfig{}, "not between 0 and 5"},
		{"ttl two args", "captive {\n sessions s1\n portal_ip 10.0.0.1\n ttl 1 2\n}", captiveConfig{}, "exactly one argument"},
		{"bad garden name", "captive {\n sessions s1\n portal_ip 10.0.0.1\n walled_garden 10.0.0.1\n}", captiveConfig{}, "not a domain name"},
		{"empty garden", "captive {\n sessions s1\n portal_ip 10.0.0.1\n walled_garden\n}", captiveConfig{}, "Wrong argument count"},
		{"unknown property", "captive {\n sessions s1\n portal_ip 10.0.0.1\n upstream 1.1.1.1\n}", captiveConfig{}, `unknown property "upstream"`},
		{"twice", "captive {\n sessions s1\n portal_ip 10.0.0.1\n}\ncaptive {\n sessions s1\n portal_ip 10.0.0.1\n}", captiveConfig{}, "once per server block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(caddy.NewTestController("dns", tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.sessions != tc.want.sessions || got.v4 != tc.want.v4 || got.v6 != tc.want.v6 ||
				got.ttl != tc.want.ttl || !slices.Equal(got.garden, tc.want.garden) || got.limits != tc.want.limits {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

var defaultLimits = Limits{Rate: DefaultRateLimit, Burst: DefaultRateBurst, GardenMaxResponse: DefaultGardenMaxResponse}

func TestSetupNeedsARegisteredSessionIndex(t *testing.T) {
	err := setup(caddy.NewTestController("dns", "captive {\n sessions nobody\n portal_ip 10.0.0.1\n}"))
	if err == nil || !strings.Contains(err.Error(), "embedded in roamgate") {
		t.Fatalf("err = %v", err)
	}
	bindings.Store("test-setup", binding{sessions: signedIn{}})
	defer bindings.Delete("test-setup")
	c := caddy.NewTestController("dns", "captive {\n sessions test-setup\n portal_ip 10.0.0.1\n}")
	if err := setup(c); err != nil {
		t.Fatalf("setup: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"everything set", func(c *Config) {
			c.Listen, c.PortalIPv6, c.Upstream, c.TTL, c.WalledGarden = "[::1]:0", "fd00::1", []string{"192.0.2.53", "[2001:db8::53]:5300"}, 5, []string{"wiki.example.org"}
		}, nil},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, []string{"dns.listen: "}},
		{"listen host name", func(c *Config) { c.Listen = "localhost:53" }, []string{"dns.listen: "}},
		{"portal_ip v6", func(c *Config) { c.PortalIP = "::1" }, []string{"dns.portal_ip: "}},
		{"portal_ip empty", func(c *Config) { c.PortalIP = "" }, []string{"dns.portal_ip: "}},
		{"portal_ipv6 v4", func(c *Config) { c.PortalIPv6 = "10.0.0.1" }, []string{"dns.portal_ipv6: "}},
		{"upstream name", func(c *Config) { c.Upstream = []string{"192.0.2.1", "dns.google"} }, []string{"dns.upstream[1]: "}},
		{"upstream port 0", func(c *Config) { c.Upstream = []string{"192.0.2.1:0"} }, []string{"dns.upstream[0]: "}},
		{"ttl", func(c *Config) { c.TTL = 6 }, []string{"dns.ttl: 6 is not between 0 and 5"}},
		{"cache", func(c *Config) { c.CacheSize = -1 }, []string{"dns.cache_size: "}},
		{"garden", func(c *Config) { c.WalledGarden = []string{"ok.example", "bad name"} }, []string{"dns.walled_garden[1]: "}},
		{"several at once", func(c *Config) { c.TTL, c.Listen = 9, "x" }, []string{"dns.ttl: ", "dns.listen: "}},
		{"rate limit off", func(c *Config) { c.RateLimit, c.RateBurst = 0, 0 }, nil},
		{"rate limit negative", func(c *Config) { c.RateLimit = -5 }, []string{"dns.rate_limit: -5 is not between 0"}},
		{"burst missing", func(c *Config) { c.RateBurst = 0 }, []string{"dns.rate_burst: 0 is not between 1"}},
		{"garden cap too small", func(c *Config) { c.GardenMaxResponse = 511 }, []string{"dns.garden_max_response: 511 is not between 512 and 65535"}},
		{"garden cap too large", func(c *Config) { c.GardenMaxResponse = 70000 }, []string{"dns.garden_max_response: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestCorefile(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		portalURL string
		want      []string
		notWant   []string
	}{
		{"demo: no upstream, no cache, no forward", func(*Config) {}, "http://127.0.0.1:8080/",
			[]string{"dns://.:5353 {", "bind 127.0.0.1", "errors", "portal_ip 127.0.0.1", "ttl 0", "rate_limit 100 400", "garden_max_response 1232"},
			[]string{"forward", "cache", "log", "walled_garden", "portal_ipv6"}},
		{"upstream with cache", func(c *Config) { c.Upstream = []string{"192.0.2.53", "[2001:db8::53]:5300"} }, "",
			[]string{"cache {\n\t\tsuccess 10000\n\t\tdenial 10000\n\t}", "forward . 192.0.2.53:53 [2001:db8::53]:5300"}, nil},
		{"cache off", func(c *Config) { c.Upstream, c.CacheSize = []string{"192.0.2.53"}, 0 }, "",
			[]string{"forward . 192.0.2.53:53"}, []string{"cache"}},
		{"portal host joins the walled garden", func(c *Config) { c.WalledGarden = []string{"stadt.example"} }, "https://wlan.stadt.example/portal",
			[]string{"walled_garden stadt.example wlan.stadt.example"}, nil},
		{"IPv6 listen and portal", func(c *Config) { c.Listen, c.PortalIPv6 = "[::1]:53", "fd00::1" }, "",
			[]string{"dns://.:53 {", "bind ::1", "portal_ipv6 fd00::1"}, nil},
		{"limits", func(c *Config) { c.RateLimit, c.RateBurst, c.GardenMaxResponse = 30, 60, 700 }, "",
			[]string{"rate_limit 30 60", "garden_max_response 700"}, nil},
		{"rate limit off", func(c *Config) { c.RateLimit = 0 }, "",
			[]string{"rate_limit 0\n"}, nil},
		{"query log never logs the client", func(c *Config) { c.QueryLog = true }, "",
			[]string{"log . \"{type} {name} {rcode} {size} {duration}\""}, []string{"{remote}", "{>id}", "common", "combined"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			s, err := New(cfg, Deps{Sessions: signedIn{}, PortalURL: tc.portalURL})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			got := s.Corefile(s.listen.Port())
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Corefile lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Corefile has %q:\n%s", w, got)
				}
			}
			// Every Corefile we write must parse with our directives.
			if err := caddy.ValidateAndExecuteDirectives(caddy.CaddyfileInput{Contents: []byte(got), ServerTypeName: "dns"}, nil, true); err != nil {
				t.Errorf("Corefile does not parse: %v\n%s", err, got)
			}
		})
	}
}
