package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"roamgate/admin"
	"roamgate/dns"
	"roamgate/history"
	"roamgate/portal"
	"roamgate/radius"
	"roamgate/session"
)

// Config is the whole gateway configuration (DESIGN §6). The zero value is
// not useful: start from DefaultConfig, which is the demo site.
type Config struct {
	// Site names the deployment.
	Site SiteConfig `yaml:"site"`
	// DataDir holds the SQLite store, the history and (unless KeysDir says
	// otherwise) the keys.
	DataDir string `yaml:"data_dir"`
	// KeysDir holds the site key and the token key ring; default DataDir.
	// Every gateway of a roaming domain needs the same two files, so
	// gateways on one host can share this directory while each keeps its
	// own DataDir.
	KeysDir string `yaml:"keys_dir"`
	// Store selects where sessions are kept.
	Store StoreConfig `yaml:"store"`
	// Session sets how long sessions live.
	Session SessionConfig `yaml:"session"`
	// Crisis configures crisis mode (switched by the admin, its API or
	// `roamgate crisis on|off`).
	Crisis CrisisConfig `yaml:"crisis"`
	// Portal is the citizen-facing captive portal.
	Portal portal.Config `yaml:"portal"`
	// RADIUS is the server access points ask.
	RADIUS radius.Config `yaml:"radius"`
	// DNS is the captive resolver (embedded CoreDNS).
	DNS dns.Config `yaml:"dns"`
	// Admin is the IT team's listener.
	Admin admin.Config `yaml:"admin"`
	// Retention says how long history is kept.
	Retention history.Config `yaml:"retention"`
	// Locations are the places with access points.
	Locations []Location `yaml:"locations"`
	// Networks are the SSIDs the site offers.
	Networks []Network `yaml:"networks"`
}

// SiteConfig names the deployment.
type SiteConfig struct {
	// Name is shown on the splash page and used as the token issuer.
	Name string `yaml:"name"`
	// PortalURL is the public URL of the portal (token audience, links).
	PortalURL string `yaml:"portal_url"`
}

// StoreConfig selects and configures the session store.
type StoreConfig struct {
	// Driver is "sqlite" (embedded, default) or "redis" (several gateways).
	Driver string `yaml:"driver"`
	// SQLite configures the embedded store.
	SQLite SQLiteConfig `yaml:"sqlite"`
	// Redis configures the shared store.
	Redis RedisConfig `yaml:"redis"`
}

// SQLiteConfig configures the embedded store.
type SQLiteConfig struct {
	// Path of the database file; default DataDir/sessions.db.
	Path string `yaml:"path"`
}

// RedisConfig configures the shared store used by several gateways. Run
// Redis with appendonly yes and appendfsync always: the gateway warns at
// start when it is configured to lose acknowledged sign-ins on a crash.
type RedisConfig struct {
	// Addr is host:port of the Redis server.
	Addr string `yaml:"addr"`
	// Username for AUTH with Redis ACLs; optional.
	Username string `yaml:"username"`
	// Password for AUTH, if any.
	Password string `yaml:"password"`
	// DB is the database number.
	DB int `yaml:"db"`
	// TLS connects with TLS (system roots; ServerName from addr).
	TLS bool `yaml:"tls"`
}

func (r RedisConfig) tlsConfig() *tls.Config {
	if !r.TLS {
		return nil
	}
	host, _, _ := net.SplitHostPort(r.Addr)
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

// SessionConfig sets session lifetimes.
type SessionConfig struct {
	// Lifetime of a session from sign-in; default 24h.
	Lifetime time.Duration `yaml:"lifetime"`
	// IdleTimeout ends a session no access point has reported for this long;
	// default 2h, 0 disables.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// CrisisConfig configures crisis mode: while it is active RADIUS admits
// every device from a configured client.
type CrisisConfig struct {
	// SessionTimeout is the lifetime (RADIUS Session-Timeout) of sessions
	// created during a crisis: short, so that normal operation returns by
	// itself soon after it ends; default 1h, capped at the longest session
	// lifetime.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// Location is a place with access points.
type Location struct {
	// ID is a short lower-case name (brueckerfeld, bahnhof …).
	ID string `yaml:"id"`
	// Name is shown to citizens and the IT team.
	Name string `yaml:"name"`
	// Network is the default network ID of the location's access points.
	Network string `yaml:"network"`
	// Match says which access points belong here.
	Match Match `yaml:"match"`
}

// Match selects access points: any listed pattern matching is enough.
type Match struct {
	// NASID are NAS-Identifier patterns with shell wildcards ("bahnhof-*").
	NASID []string `yaml:"nas_id"`
	// APMAC are access point MAC addresses (any notation).
	APMAC []string `yaml:"ap_mac"`
	// NASIP are NAS-IP-Address networks in CIDR notation.
	NASIP []string `yaml:"nas_ip"`
}

// Network is an SSID the site offers.
type Network struct {
	// ID is a short lower-case name (wifi4eu, stadt).
	ID string `yaml:"id"`
	// SSID as broadcast by the access points.
	SSID string `yaml:"ssid"`
	// BandwidthUp and BandwidthDown are per-client limits in kbit/s; 0 = none.
	BandwidthUp   int `yaml:"bandwidth_up"`
	BandwidthDown int `yaml:"bandwidth_down"`
	// Role is the user role (Aruba, sent as Aruba-User-Role) or group
	// policy (Meraki, sent as Filter-Id) the access points apply to this
	// network's devices: those families keep bandwidth contracts by role,
	// configured on the controller or dashboard, not by number. Empty:
	// none. Printable ASCII, at most 64 characters.
	Role string `yaml:"role"`
	// Lifetime overrides session.lifetime for this network.
	Lifetime time.Duration `yaml:"lifetime"`
}

// DefaultConfig is the demo site: four locations of a town, WiFi4EU and the
// city network, SQLite in ./data, everything but the portal on loopback.
func DefaultConfig() Config {
	return Config{
		Site:      SiteConfig{Name: "Stadt-WLAN Demo", PortalURL: "http://127.0.0.1:8080/"},
		DataDir:   "data",
		Store:     StoreConfig{Driver: "sqlite"},
		Session:   SessionConfig{Lifetime: 24 * time.Hour, IdleTimeout: 2 * time.Hour},
		Crisis:    CrisisConfig{SessionTimeout: session.DefaultCrisisLifetime},
		Portal:    portal.Config{Listen: portal.DefaultListen, Languages: portal.DefaultLanguages()},
		RADIUS:    radius.DefaultConfig(),
		Admin:     admin.DefaultConfig(),
		Retention: history.DefaultConfig(),
		DNS:       dns.DefaultConfig(),
		Networks: []Network{
			{ID: "wifi4eu", SSID: "WiFi4EU"},
			{ID: "stadt", SSID: "Stadt-WLAN"},
		},
		Locations: []Location{
			{ID: "brueckerfeld", Name: "Brückerfeld", Network: "wifi4eu", Match: Match{NASID: []string{"brueckerfeld-*"}}},
			{ID: "bahnhof", Name: "Bahnhof", Network: "wifi4eu", Match: Match{NASID: []string{"bahnhof-*"}}},
			{ID: "stadtpark", Name: "Stadtpark", Network: "wifi4eu", Match: Match{NASID: []string{"stadtpark-*"}}},
			{ID: "rathaus", Name: "Rathaus", Network: "stadt", Match: Match{NASID: []string{"rathaus-*"}}},
		},
	}
}

// KeysPath is the directory of the site key and the token key ring.
func (c Config) KeysPath() string {
	if c.KeysDir != "" {
		return c.KeysDir
	}
	return c.DataDir
}

// SQLitePath is the database file the config selects.
func (c Config) SQLitePath() string {
	if c.Store.SQLite.Path != "" {
		return c.Store.SQLite.Path
	}
	return filepath.Join(c.DataDir, "sessions.db")
}

// Policy is the session policy the config describes.
func (c Config) Policy() session.Policy {
	p := session.Policy{Lifetime: c.Session.Lifetime, IdleTimeout: c.Session.IdleTimeout, NetworkLifetime: map[string]time.Duration{}}
	for _, n := range c.Networks {
		if n.Lifetime > 0 {
			p.NetworkLifetime[n.ID] = n.Lifetime
		}
	}
	return p
}

// maxKbps bounds bandwidth limits (100 Gbit/s), well inside the 32 bits
// RADIUS attributes carry.
const maxKbps = 100_000_000

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate checks the whole config and returns every problem, each naming
// its key path.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.Site.Name) == "" {
		add("site.name", "missing")
	}
	if u, err := url.Parse(c.Site.PortalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("site.portal_url", "%q is not an absolute http or https URL", c.Site.PortalURL)
	}
	if c.DataDir == "" {
		add("data_dir", "missing")
	}
	switch c.Store.Driver {
	case "sqlite":
	case "redis":
		if _, _, err := net.SplitHostPort(c.Store.Redis.Addr); err != nil {
			add("store.redis.addr", "%q is not host:port", c.Store.Redis.Addr)
		}
		if c.Store.Redis.DB < 0 {
			add("store.redis.db", "%d is negative", c.Store.Redis.DB)
		}
	default:
		add("store.driver", "%q is not one of sqlite, redis", c.Store.Driver)
	}
	if c.Session.Lifetime < time.Minute {
		add("session.lifetime", "%s is shorter than 1m", c.Session.Lifetime)
	}
	if c.Session.IdleTimeout < 0 {
		add("session.idle_timeout", "%s is negative", c.Session.IdleTimeout)
	}
	// Longer than session.lifetime is not an error: crisis sessions are
	// capped at the longest lifetime, so a short session.lifetime (a demo,
	// a soak test) does not make the default 1h invalid.
	if t := c.Crisis.SessionTimeout; t < time.Minute {
		add("crisis.session_timeout", "%s is shorter than 1m", t)
	}
	networks := map[string]bool{}
	for i, n := range c.Networks {
		key := fmt.Sprintf("networks[%d]", i)
		switch {
		case !idPattern.MatchString(n.ID):
			add(key+".id", "%q must be 1-32 lower-case letters, digits, '-' or '_'", n.ID)
		case networks[n.ID]:
			add(key+".id", "%q is used twice", n.ID)
		}
		networks[n.ID] = true
		if n.SSID == "" || len(n.SSID) > 32 {
			add(key+".ssid", "%q must be 1-32 bytes", n.SSID)
		}
		for _, bw := range []struct {
			key  string
			kbps int
		}{{"bandwidth_up", n.BandwidthUp}, {"bandwidth_down", n.BandwidthDown}} {
			if bw.kbps < 0 || bw.kbps > maxKbps {
				add(key+"."+bw.key, "%d is not between 0 and %d kbit/s", bw.kbps, maxKbps)
			}
		}
		if !printableASCII(n.Role, 64) {
			add(key+".role", "%q must be at most 64 printable ASCII characters", n.Role)
		}
		if n.Lifetime != 0 && n.Lifetime < time.Minute {
			add(key+".lifetime", "%s is shorter than 1m", n.Lifetime)
		}
	}
	if len(c.Networks) == 0 {
		add("networks", "at least one network is needed")
	}
	locations := map[string]bool{}
	for i, l := range c.Locations {
		key := fmt.Sprintf("locations[%d]", i)
		switch {
		case !idPattern.MatchString(l.ID):
			add(key+".id", "%q must be 1-32 lower-case letters, digits, '-' or '_'", l.ID)
		case locations[l.ID]:
			add(key+".id", "%q is used twice", l.ID)
		}
		locations[l.ID] = true
		if l.Network != "" && !networks[l.Network] {
			add(key+".network", "%q is not one of networks[].id", l.Network)
		}
		for j, p := range l.Match.NASID {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				add(fmt.Sprintf("%s.match.nas_id[%d]", key, j), "%q is not a valid pattern", p)
			}
		}
		for j, m := range l.Match.APMAC {
			if _, err := session.ParseMAC(m); err != nil {
				add(fmt.Sprintf("%s.match.ap_mac[%d]", key, j), "%q is not a MAC address", m)
			}
		}
		for j, p := range l.Match.NASIP {
			if _, err := netip.ParsePrefix(p); err != nil {
				add(fmt.Sprintf("%s.match.nas_ip[%d]", key, j), "%q is not a network in CIDR notation", p)
			}
		}
	}
	for i, cl := range c.RADIUS.Clients {
		if cl.Location != "" && !locations[cl.Location] {
			add(fmt.Sprintf("radius.clients[%d].location", i), "%q is not one of locations[].id", cl.Location)
		}
	}
	for _, v := range []interface{ Validate() error }{c.Portal, c.RADIUS, c.DNS, c.Admin, c.Retention} {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// printableASCII reports whether s is at most n characters of printable
// ASCII (space to tilde).
func printableASCII(s string, n int) bool {
	if len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
