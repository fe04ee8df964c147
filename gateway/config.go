package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"roamgate/admin"
	"roamgate/assets"
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
	// Log configures the gateway's log (standard error).
	Log LogConfig `yaml:"log"`
}

// LogConfig configures the log.
type LogConfig struct {
	// Level is the least severe level written: debug (adds per-packet
	// lines; slow under load), info (default), warn or error.
	Level string `yaml:"level"`
}

// logLevels are the names log.level accepts.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// Logger is the gateway's logger: text lines to w from log.level on.
func (c Config) Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: logLevels[c.Log.Level]}))
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
// Exactly one of Addr, Sentinel and Cluster says where Redis is
// (docs/OPERATIONS.md, "Two sites").
type RedisConfig struct {
	// Addr is host:port of a single Redis server.
	Addr string `yaml:"addr"`
	// Sentinel finds the primary through Redis Sentinel and follows it
	// across failovers.
	Sentinel SentinelConfig `yaml:"sentinel"`
	// Cluster are host:port of Redis Cluster nodes (some or all; the
	// others are discovered).
	Cluster []string `yaml:"cluster"`
	// Username for AUTH with Redis ACLs; optional.
	Username string `yaml:"username"`
	// Password for AUTH, if any.
	Password string `yaml:"password"`
	// DB is the database number (0 on a cluster).
	DB int `yaml:"db"`
	// TLS connects with TLS (system roots; the server name is each
	// server's host).
	TLS bool `yaml:"tls"`
	// MinReplicasAcked replicas must confirm (Redis WAIT) a sign-in,
	// re-bind, revocation or crisis switch before it is acknowledged;
	// when they do not within ReplicaTimeout the sign-in gets 503 and
	// Retry-After. -1 (default): 1 with Sentinel or Cluster, and with a
	// single server that has a replica connected at start; 0: never wait.
	MinReplicasAcked int `yaml:"min_replicas_acked"`
	// ReplicaTimeout bounds that wait; default 1s.
	ReplicaTimeout time.Duration `yaml:"replica_timeout"`
}

// SentinelConfig says how to find the Redis primary through Sentinel.
type SentinelConfig struct {
	// MasterName is the name the Sentinels monitor the primary under
	// (sentinel monitor <name> …).
	MasterName string `yaml:"master_name"`
	// Addresses are host:port of the Sentinels; list all of them (three:
	// one per site and one on a third host).
	Addresses []string `yaml:"addresses"`
	// Password of the Sentinels themselves (sentinel requirepass), if
	// any; the data servers use store.redis.password.
	Password string `yaml:"password"`
}

func (r RedisConfig) tlsConfig() *tls.Config {
	if !r.TLS {
		return nil
	}
	// No ServerName: crypto/tls takes each connection's host, which is
	// right for every server of a Sentinel group or a cluster.
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// validate checks store.redis; add reports a problem at a key path.
func (r RedisConfig) validate(add func(key, format string, args ...any)) {
	const key = "store.redis"
	var shapes []string
	if r.Addr != "" {
		shapes = append(shapes, "addr")
	}
	if r.Sentinel.MasterName != "" || len(r.Sentinel.Addresses) > 0 {
		shapes = append(shapes, "sentinel")
	}
	if len(r.Cluster) > 0 {
		shapes = append(shapes, "cluster")
	}
	switch len(shapes) {
	case 0:
		add(key, "set one of addr (one server), sentinel (master_name and addresses) or cluster (node addresses)")
	case 1:
	default:
		add(key, "%s exclude each other; set only one", strings.Join(shapes, " and "))
	}
	hostPort := func(k, a string) {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			add(k, "%q is not host:port", a)
		}
	}
	if r.Addr != "" {
		hostPort(key+".addr", r.Addr)
	}
	if slices.Contains(shapes, "sentinel") {
		if r.Sentinel.MasterName == "" {
			add(key+".sentinel.master_name", "missing (the name in the Sentinels' \"sentinel monitor\" line)")
		}
		if len(r.Sentinel.Addresses) == 0 {
			add(key+".sentinel.addresses", "at least one Sentinel address is needed (three for a quorum across two sites)")
		}
		for i, a := range r.Sentinel.Addresses {
			hostPort(fmt.Sprintf("%s.sentinel.addresses[%d]", key, i), a)
		}
	}
	for i, a := range r.Cluster {
		hostPort(fmt.Sprintf("%s.cluster[%d]", key, i), a)
	}
	if r.DB < 0 {
		add(key+".db", "%d is negative", r.DB)
	} else if r.DB != 0 && len(r.Cluster) > 0 {
		add(key+".db", "%d: a Redis Cluster has database 0 only", r.DB)
	}
	if r.MinReplicasAcked < -1 || r.MinReplicasAcked > maxReplicasAcked {
		add(key+".min_replicas_acked", "%d is not between -1 (automatic) and %d", r.MinReplicasAcked, maxReplicasAcked)
	}
	if t := r.ReplicaTimeout; t < 10*time.Millisecond || t > 10*time.Second {
		add(key+".replica_timeout", "%s is not between 10ms and 10s", t)
	}
}

// maxReplicasAcked bounds store.redis.min_replicas_acked: more copies than
// this is a typo, not a topology.
const maxReplicasAcked = 16

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
	// Message replaces the built-in crisis message (assets/i18n/admin,
	// "crisis_default_message") per language: de, en, tr, uk, ar. A switch
	// that gives no text for a language (the dashboard's form left as it
	// is, the API or `roamgate crisis on` without it) shows this, or the
	// built-in text. Optional; at most 1000 bytes each.
	Message map[string]string `yaml:"message"`
}

// CrisisMessages are the default crisis messages: the built-in text in every
// language, replaced by crisis.message where the config has one.
func (c Config) CrisisMessages() map[string]string {
	out := map[string]string{}
	for _, lang := range assets.Languages() {
		if m := strings.TrimSpace(c.Crisis.Message[lang]); m != "" {
			out[lang] = m
		} else if cat, err := assets.AdminMessages(lang); err == nil {
			out[lang] = cat.T("crisis_default_message")
		}
	}
	return out
}

// withDefaultMessages fills every language of defaults without a text in m.
func withDefaultMessages(m, defaults map[string]string) map[string]string {
	out := make(map[string]string, len(defaults)+len(m))
	for lang, text := range m {
		if strings.TrimSpace(text) != "" {
			out[lang] = text
		}
	}
	for lang, text := range defaults {
		if _, ok := out[lang]; !ok {
			out[lang] = text
		}
	}
	return out
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
	// Lat and Lon place the location on the admin dashboard's map (WGS 84
	// degrees, as OpenStreetMap shows them); optional, both or neither.
	// Locations without them are left off the map; with none there is no
	// map.
	Lat *float64 `yaml:"lat"`
	Lon *float64 `yaml:"lon"`
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
		Store:     StoreConfig{Driver: "sqlite", Redis: RedisConfig{MinReplicasAcked: -1, ReplicaTimeout: time.Second}},
		Session:   SessionConfig{Lifetime: 24 * time.Hour, IdleTimeout: 2 * time.Hour},
		Crisis:    CrisisConfig{SessionTimeout: session.DefaultCrisisLifetime},
		Portal:    portal.Config{Listen: portal.DefaultListen, Languages: portal.DefaultLanguages()},
		RADIUS:    radius.DefaultConfig(),
		Admin:     admin.DefaultConfig(),
		Retention: history.DefaultConfig(),
		DNS:       dns.DefaultConfig(),
		Log:       LogConfig{Level: "info"},
		Networks: []Network{
			{ID: "wifi4eu", SSID: "WiFi4EU"},
			{ID: "stadt", SSID: "Stadt-WLAN"},
		},
		Locations: []Location{
			{ID: "brueckerfeld", Name: "Brückerfeld", Network: "wifi4eu", Match: Match{NASID: []string{"brueckerfeld-*"}}, Lat: deg(51.3302), Lon: deg(6.5531)},
			{ID: "bahnhof", Name: "Bahnhof", Network: "wifi4eu", Match: Match{NASID: []string{"bahnhof-*"}}, Lat: deg(51.3236), Lon: deg(6.5703)},
			{ID: "stadtpark", Name: "Stadtpark", Network: "wifi4eu", Match: Match{NASID: []string{"stadtpark-*"}}, Lat: deg(51.3281), Lon: deg(6.5805)},
			{ID: "rathaus", Name: "Rathaus", Network: "stadt", Match: Match{NASID: []string{"rathaus-*"}}, Lat: deg(51.3324), Lon: deg(6.5622)},
		},
	}
}

func deg(v float64) *float64 { return &v }

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

// maxCrisisMessage is the longest crisis message session accepts.
const maxCrisisMessage = 1000

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
	if _, ok := logLevels[c.Log.Level]; !ok {
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Store.Driver {
	case "sqlite":
	case "redis":
		c.Store.Redis.validate(add)
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
	for _, lang := range slices.Sorted(maps.Keys(c.Crisis.Message)) {
		switch {
		case !slices.Contains(assets.Languages(), lang):
			add("crisis.message."+lang, "%q is not one of %s", lang, strings.Join(assets.Languages(), ", "))
		case len(c.Crisis.Message[lang]) > maxCrisisMessage:
			add("crisis.message."+lang, "longer than %d bytes", maxCrisisMessage)
		}
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
		switch {
		case (l.Lat == nil) != (l.Lon == nil):
			add(key+".lat, "+key+".lon", "set both or neither")
		case l.Lat != nil:
			if v := *l.Lat; math.IsNaN(v) || v < -90 || v > 90 {
				add(key+".lat", "%v is not a latitude (-90 to 90)", v)
			}
			if v := *l.Lon; math.IsNaN(v) || v < -180 || v > 180 {
				add(key+".lon", "%v is not a longitude (-180 to 180)", v)
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
		if r := cl.RequireSignature; r != nil && *r && cl.UAMSecret == "" && c.Portal.Coova.UAMSecret == "" {
			add(fmt.Sprintf("radius.clients[%d].require_signature", i), "true needs a uam_secret (here or in portal.coova.uam_secret)")
		}
	}
	for i, g := range c.Portal.OpenNDS.Gateways {
		if g.Location != "" && !locations[g.Location] {
			add(fmt.Sprintf("portal.opennds.gateways[%d].location", i), "%q is not one of locations[].id", g.Location)
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
