package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roamgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultConfigIsTheDemoSite(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatalf("demo defaults do not validate: %v", err)
	}
	var ids []string
	for _, l := range cfg.Locations {
		ids = append(ids, l.ID)
	}
	if got, want := strings.Join(ids, ","), "brueckerfeld,bahnhof,stadtpark,rathaus"; got != want {
		t.Errorf("demo locations = %s, want %s", got, want)
	}
	if len(cfg.Networks) != 2 || cfg.Networks[0].ID != "wifi4eu" || cfg.Networks[1].ID != "stadt" {
		t.Errorf("demo networks = %+v", cfg.Networks)
	}
	if cfg.RADIUS.AuthListen != "127.0.0.1:1812" || cfg.RADIUS.AcctListen != "127.0.0.1:1813" ||
		cfg.Admin.Listen != "127.0.0.1:9080" || cfg.Portal.Listen != ":8080" {
		t.Errorf("demo listeners differ from DESIGN §6: %+v %+v %+v", cfg.RADIUS, cfg.Admin, cfg.Portal)
	}
	if cfg.Store.Driver != "sqlite" || cfg.DataDir != "data" {
		t.Errorf("demo store = %+v in %q", cfg.Store, cfg.DataDir)
	}
}

func TestLoadErrorsNameTheKeyPath(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad CIDR", "radius:\n  clients:\n    - {name: ap, cidr: 10.0.0.0/33, secret: abcdefghijklmnopq}\n",
			[]string{`radius.clients[0].cidr: "10.0.0.0/33" is not a network`}},
		{"missing secret", "radius:\n  clients:\n    - {name: ap, cidr: 10.0.0.0/16}\n",
			[]string{"radius.clients[0].secret: missing"}},
		{"unknown key", "radius:\n  clients:\n    - {name: ap, cidr: 10.0.0.0/16, secrt: x}\n",
			[]string{"radius.clients[0].secrt (line 3): unknown key"}},
		{"unknown top-level key", "sesion:\n  lifetime: 1h\n", []string{"sesion (line 1): unknown key"}},
		{"bad duration", "session:\n  lifetime: forever\n", []string{`session.lifetime (line 2): "forever" is not a valid duration`}},
		{"bad boolean", "radius:\n  require_message_authenticator: maybe\n", []string{"radius.require_message_authenticator (line 2)", "boolean"}},
		{"list where a mapping belongs", "portal: [1, 2]\n", []string{"portal (line 1): want a mapping"}},
		{"unknown network of a location", "locations:\n  - {id: markt, name: Markt, network: lte}\n", []string{`locations[0].network: "lte" is not one of networks[].id`}},
		{"bad nas_ip", "locations:\n  - {id: markt, name: Markt, match: {nas_ip: [10.1.2.0/40]}}\n", []string{"locations[0].match.nas_ip[0]"}},
		{"unknown store driver", "store:\n  driver: mysql\n", []string{`store.driver: "mysql" is not one of sqlite, redis`}},
		{"bad admin hash", "admin:\n  users:\n    - {name: it, password_hash: secret}\n", []string{"admin.users[0].password_hash"}},
		{"uam_secret with a newline", "radius:\n  clients:\n    - {name: ap, cidr: 10.1.0.1, secret: abcdefghijklmnopq, uam_secret: \"a\\nb\"}\n",
			[]string{"radius.clients[0].uam_secret: has a character other than printable ASCII at position 2"}},
		{"require_signature without any uam_secret", "radius:\n  clients:\n    - {name: ap, cidr: 10.1.0.1, secret: abcdefghijklmnopq, require_signature: true}\n",
			[]string{"radius.clients[0].require_signature: true needs a uam_secret (here or in portal.coova.uam_secret)"}},
		{"bad require_signature", "radius:\n  clients:\n    - {name: ap, cidr: 10.1.0.1, secret: abcdefghijklmnopq, require_signature: perhaps}\n",
			[]string{"radius.clients[0].require_signature (line 3)"}},
		{"openNDS gateway without a network", "portal:\n  opennds:\n    gateways:\n      - {name: markt, cidr: 192.168.8.1/33}\n",
			[]string{`portal.opennds.gateways[0].cidr: "192.168.8.1/33" is not a network or address`}},
		{"openNDS gateway twice", "portal:\n  opennds:\n    faskey: k\n    gateways:\n      - {cidr: 192.168.8.1}\n      - {cidr: 192.168.8.1/32}\n",
			[]string{`portal.opennds.gateways[1].cidr: "192.168.8.1/32" is also portal.opennds.gateways[0].cidr`}},
		{"openNDS gateway at an unknown location", "portal:\n  opennds:\n    gateways:\n      - {cidr: 192.168.8.1, location: markt}\n",
			[]string{`portal.opennds.gateways[0].location: "markt" is not one of locations[].id`}},
		{"openNDS signature without faskey", "portal:\n  opennds:\n    gateways:\n      - {cidr: 192.168.8.1, require_signature: true}\n",
			[]string{"portal.opennds.gateways[0].require_signature: true needs a faskey"}},
		{"openNDS faskey with a quote", "portal:\n  opennds:\n    gateways:\n      - {cidr: 192.168.8.1, faskey: \"it's\"}\n",
			[]string{"portal.opennds.gateways[0].faskey: has a quote"}},
		{"unknown openNDS gateway key", "portal:\n  opennds:\n    gateways:\n      - {cidr: 192.168.8.1, fas_key: x}\n",
			[]string{"portal.opennds.gateways[0].fas_key (line 4): unknown key"}},
		{"several errors at once", "session:\n  lifetime: 10s\nsite:\n  portal_url: ftp://x\n",
			[]string{"session.lifetime: 10s is shorter than 1m", `site.portal_url: "ftp://x" is not an absolute http or https URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.yaml), nil)
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadOverlaysFileOnDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, "session:\n  lifetime: 8h\nradius:\n  clients:\n    - {name: wlc, cidr: 10.20.0.0/16, secret: 0123456789abcdefXYZ, location: bahnhof}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.Lifetime != 8*time.Hour || cfg.Session.IdleTimeout != 2*time.Hour {
		t.Errorf("session = %+v, want lifetime 8h and the default idle timeout", cfg.Session)
	}
	if len(cfg.RADIUS.Clients) != 1 || cfg.RADIUS.Clients[0].Name != "wlc" {
		t.Errorf("clients = %+v: a configured list replaces the demo client", cfg.RADIUS.Clients)
	}
	if cfg.RADIUS.AuthListen != "127.0.0.1:1812" {
		t.Errorf("auth_listen lost its default: %q", cfg.RADIUS.AuthListen)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"PATH=/usr/bin",
		"ROAMGATE_PORTAL_LISTEN=127.0.0.1:18080",
		"ROAMGATE_SESSION_LIFETIME=90m",
		"ROAMGATE_RADIUS_REQUIRE_MESSAGE_AUTHENTICATOR=false",
		"ROAMGATE_RADIUS_CLIENTS_0_SECRET=from-the-environment-123",
		"ROAMGATE_PORTAL_LANGUAGES=en,de",
		"ROAMGATE_DATA_DIR=/var/lib/roamgate",
		"ROAMGATE_RADIUS_CLIENTS_0_UAM_SECRET=demo-uam-secret",
		"ROAMGATE_RADIUS_CLIENTS_0_REQUIRE_SIGNATURE=false",
	}
	cfg, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Portal.Listen != "127.0.0.1:18080" || cfg.Session.Lifetime != 90*time.Minute ||
		cfg.RADIUS.RequireMessageAuthenticator || cfg.RADIUS.Clients[0].Secret != "from-the-environment-123" ||
		cfg.DataDir != "/var/lib/roamgate" || !reflect.DeepEqual(cfg.Portal.Languages, []string{"en", "de"}) ||
		cfg.RADIUS.Clients[0].UAMSecret != "demo-uam-secret" || cfg.RADIUS.Clients[0].RequireSignature == nil || *cfg.RADIUS.Clients[0].RequireSignature {
		t.Errorf("env not applied: %+v", cfg)
	}

	t.Run("typo is an error", func(t *testing.T) {
		_, err := Load("", []string{"ROAMGATE_PORTAL_LISTN=:1"})
		if err == nil || !strings.Contains(err.Error(), "ROAMGATE_PORTAL_LISTN: names no config key") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad value names key and variable", func(t *testing.T) {
		_, err := Load("", []string{"ROAMGATE_SESSION_IDLE_TIMEOUT=soon"})
		if err == nil || !strings.Contains(err.Error(), "session.idle_timeout (from ROAMGATE_SESSION_IDLE_TIMEOUT)") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestExampleConfig keeps deploy/roamgate.example.yaml from drifting: it must
// validate and mention every key the structs have.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "deploy", "roamgate.example.yaml")
	if _, err := Load(path, nil); err != nil {
		t.Fatalf("example config: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	collectKeys(doc.Content[0], "", have)
	want := map[string]bool{}
	structKeys(reflect.TypeOf(Config{}), "", want)
	var missing []string
	for k := range want {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the example config does not document: %s", strings.Join(missing, ", "))
	}
}

func collectKeys(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			out[k] = true
			collectKeys(n.Content[i+1], k, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			collectKeys(c, prefix+"[]", out)
		}
	}
}

func structKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		for name, f := range yamlFields(t) {
			k := join(prefix, name)
			out[k] = true
			structKeys(f.Type, k, out)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			structKeys(t.Elem(), prefix+"[]", out)
		}
	}
}

func TestLocator(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Locations = append(cfg.Locations, Location{ID: "markt", Name: "Markt", Network: "stadt",
		Match: Match{APMAC: []string{"AA-BB-CC-00-11-22"}, NASIP: []string{"10.9.0.0/16"}}})
	l := newLocator(cfg)
	tests := []struct {
		name, nasID, apMAC, ssid, ip string
		loc, nw                      string
	}{
		{"nas id pattern", "bahnhof-ap-1", "", "", "", "bahnhof", "wifi4eu"},
		{"ssid decides the network", "stadtpark-ap-3", "", "Stadt-WLAN", "", "stadtpark", "stadt"},
		{"ap mac in another notation", "", "aabb.cc00.1122", "", "", "markt", "stadt"},
		{"nas ip", "", "", "", "10.9.4.4", "markt", "stadt"},
		{"nothing matches", "elsewhere", "", "", "192.0.2.1", "", "wifi4eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			loc, nw := l.Locate(tt.nasID, tt.apMAC, tt.ssid, ip)
			if loc != tt.loc || nw != tt.nw {
				t.Errorf("Locate = %q, %q; want %q, %q", loc, nw, tt.loc, tt.nw)
			}
		})
	}
}

// TestAccessPoints: the portal's per-access-point view carries each RADIUS
// client's UAM secret, signature requirement and location (issue 12 §2b).
func TestAccessPoints(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
portal:
  coova: {uam_secret: site-default}
radius:
  clients:
    - {name: bahnhof-wan, cidr: 10.20.1.0/24, secret: 0123456789abcdefXYZ, location: bahnhof, vendor: coova}
    - {name: bahnhof-uam, cidr: 10.1.0.1, secret: 0123456789abcdefXYZ, location: bahnhof, vendor: uspot, uam_secret: own-secret, require_signature: false}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	aps := accessPoints(cfg)
	if len(aps) != 2 {
		t.Fatalf("%d access points, want 2", len(aps))
	}
	uam := aps[1]
	if uam.Name != "bahnhof-uam" || uam.Network != netip.MustParsePrefix("10.1.0.1/32") || uam.Vendor != "uspot" ||
		uam.UAMSecret != "own-secret" || uam.Location != "bahnhof" || uam.RequireSignature == nil || *uam.RequireSignature {
		t.Errorf("access point %+v", uam)
	}
	if aps[0].UAMSecret != "" || aps[0].RequireSignature != nil {
		t.Errorf("a client without its own secret: %+v (the portal applies portal.coova.uam_secret)", aps[0])
	}
}

// TestLogLevelAndAdminProxies is issue 11 item 12: log.level and
// admin.trusted_proxies come from the file or the environment, and bad
// values are named by their key path.
func TestLogLevelAndAdminProxies(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "info" {
		t.Errorf("default log.level = %q, want info", cfg.Log.Level)
	}
	cfg, err = Load(writeConfig(t, "log:\n  level: debug\nadmin:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.7]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "debug" || !reflect.DeepEqual(cfg.Admin.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.7"}) {
		t.Errorf("from the file: log %+v, admin.trusted_proxies %v", cfg.Log, cfg.Admin.TrustedProxies)
	}
	cfg, err = Load("", []string{"ROAMGATE_LOG_LEVEL=warn", "ROAMGATE_ADMIN_TRUSTED_PROXIES=127.0.0.1,::1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "warn" || !reflect.DeepEqual(cfg.Admin.TrustedProxies, []string{"127.0.0.1", "::1"}) {
		t.Errorf("from the environment: log %+v, admin.trusted_proxies %v", cfg.Log, cfg.Admin.TrustedProxies)
	}

	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	for name, level := range levels {
		cfg.Log.Level = name
		log := cfg.Logger(io.Discard)
		if !log.Enabled(context.Background(), level) || (level > slog.LevelDebug && log.Enabled(context.Background(), level-4)) {
			t.Errorf("log.level %s: the logger does not start at %v", name, level)
		}
	}

	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"ROAMGATE_LOG_LEVEL=verbose"}, `log.level: "verbose" is not one of debug, info, warn, error`},
		{[]string{"ROAMGATE_ADMIN_TRUSTED_PROXIES=10.0.0.0/8,proxy"}, `admin.trusted_proxies[1]: "proxy" is not a network or address`},
	} {
		if _, err := Load("", tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}

// TestCrisisMessages: the default crisis messages are the built-in ones in
// every language, crisis.message replaces them per language, and bad keys
// are named by their path.
func TestCrisisMessages(t *testing.T) {
	cfg, err := Load(writeConfig(t, "crisis:\n  message:\n    en: \"Bridge closed.\"\n    uk: \"  \"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.CrisisMessages()
	if len(m) != 5 || m["en"] != "Bridge closed." || !strings.HasPrefix(m["de"], "Amtliche Warnung") ||
		!strings.HasPrefix(m["uk"], "Офіційне попередження") || !strings.HasPrefix(m["ar"], "تحذير رسمي") || !strings.HasPrefix(m["tr"], "Resmî uyarı") {
		t.Errorf("CrisisMessages() = %v", m)
	}
	got := withDefaultMessages(map[string]string{"tr": "Köprü kapalı.", "de": " "}, m)
	if got["tr"] != "Köprü kapalı." || got["de"] != m["de"] || got["en"] != "Bridge closed." || len(got) != 5 {
		t.Errorf("withDefaultMessages = %v", got)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"crisis:\n  message:\n    fr: \"Alerte\"\n", `crisis.message.fr: "fr" is not one of de, ar, en, tr, uk`},
		{"crisis:\n  message:\n    de: \"" + strings.Repeat("x", 1001) + "\"\n", "crisis.message.de: longer than 1000 bytes"},
	} {
		if _, err := Load(writeConfig(t, tc.yaml), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

func TestLocationCoordinates(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"locations:\n  - {id: markt, name: Markt, lat: 51.3}\n", "locations[0].lat, locations[0].lon: set both or neither"},
		{"locations:\n  - {id: markt, name: Markt, lat: 91, lon: 6}\n", "locations[0].lat: 91 is not a latitude"},
		{"locations:\n  - {id: markt, name: Markt, lat: 51, lon: -181}\n", "locations[0].lon: -181 is not a longitude"},
		{"locations:\n  - {id: markt, name: Markt, lat: north, lon: 6}\n", `locations[0].lat (line 2): "north" is not a valid`},
	} {
		if _, err := Load(writeConfig(t, tc.yaml), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
	cfg, err := Load(writeConfig(t, "locations:\n  - {id: markt, name: Markt, lat: 0, lon: -0.5}\n  - {id: hafen, name: Hafen}\n"), []string{"ROAMGATE_LOCATIONS_1_LAT=53.5", "ROAMGATE_LOCATIONS_1_LON=9.9"})
	if err != nil {
		t.Fatal(err)
	}
	got := places(cfg)
	if len(got) != 2 || got[0].Lat != 0 || got[0].Lon != -0.5 || got[1].Name != "Hafen" || got[1].Lat != 53.5 {
		t.Errorf("places = %+v", got)
	}
}
