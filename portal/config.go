package portal

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"roamgate/assets"
	"roamgate/clientaddr"
	"roamgate/portal/vendor"
)

// Config configures the portal. A zero field means its default.
type Config struct {
	// Listen is the TCP address the portal serves HTTP on.
	// Default ":8080".
	Listen string `yaml:"listen"`

	// Languages are the languages the pages are offered in, as language
	// tags with translations in assets (assets.Languages: de, en, tr, uk,
	// ar). The first is the default; others are chosen by the browser's
	// Accept-Language or ?lang=. Default DefaultLanguages, all five.
	Languages []string `yaml:"languages"`

	// Terms are the terms of use per language: either the text itself or an
	// absolute http(s) URL to link to (the host must then be in the DNS
	// walled garden, or devices cannot reach it before signing in).
	// Languages without an entry show the default text from assets.
	// Optional.
	Terms map[string]string `yaml:"terms"`

	// TermsCheckbox adds a checkbox "I accept the terms of use" that must
	// be ticked besides the button. Off by default: the button, "Accept the
	// terms of use and go online", below the terms, is the acceptance, and
	// signing in takes one tap.
	TermsCheckbox bool `yaml:"terms_checkbox"`

	// TrustedProxies are the networks (CIDRs, or single addresses) of
	// reverse proxies in front of the portal. Only requests from them have
	// their X-Forwarded-For and X-Forwarded-Proto believed. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`

	// MaxConnsPerClient caps the connections one client address may hold
	// open at once; more are answered 429 and closed, so that one client
	// cannot take the connections every other phone needs. Trusted proxies
	// are not limited (they carry many clients; limit there). Raise it
	// where access points NAT their clients behind one address. Default 64.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`

	// Vendor is the access-point family whose redirects the portal expects
	// (generic, coova, cisco, meraki, aruba, mikrotik, opennds, unifi,
	// omada, mac-auth). Default "auto": a RADIUS client's vendor, else detected
	// from the redirect's parameters.
	Vendor string `yaml:"vendor"`

	// LoginHosts are host names an access point's login URL may point at,
	// besides the addresses of the RADIUS clients (a MikroTik hotspot
	// dns-name, a controller's name). Optional.
	LoginHosts []string `yaml:"login_hosts"`

	// VenueInfoURL is a page about the venue, offered to devices through the
	// RFC 8908 API (venue-info-url). Optional.
	VenueInfoURL string `yaml:"venue_info_url"`

	// Coova configures CoovaChilli and uspot logins.
	Coova CoovaConfig `yaml:"coova"`

	// OpenNDS configures openNDS forwarding authentication.
	OpenNDS OpenNDSConfig `yaml:"opennds"`

	// UniFi is the UniFi controller that authorises guests of the unifi
	// vendor. Optional: without a URL, UniFi arrivals cannot be let in.
	UniFi UniFiConfig `yaml:"unifi"`

	// Omada is the TP-Link Omada controller that authorises guests of the
	// omada vendor (External Portal Server). Optional: without a URL, Omada
	// arrivals cannot be let in.
	Omada OmadaConfig `yaml:"omada"`

	// WiFi4EU configures the WiFi4EU programme's requirements on the pages
	// of the networks it names.
	WiFi4EU WiFi4EUConfig `yaml:"wifi4eu"`
}

// CoovaConfig configures CoovaChilli and uspot logins.
type CoovaConfig struct {
	// UAMSecret is the access points' uamsecret (HS_UAMSECRET), mixed into
	// the CHAP challenge. Optional.
	UAMSecret string `yaml:"uam_secret"`
	// PAP makes logins use PAP instead of CHAP. Default false (CHAP).
	PAP bool `yaml:"pap"`
}

// OpenNDSConfig configures openNDS forwarding authentication.
type OpenNDSConfig struct {
	// FASKey is openNDS's faskey: it decrypts level-2/3 redirects and
	// hashes the auth token. The default for gateways without their own;
	// required for openNDS access points unless every gateway has one.
	FASKey string `yaml:"faskey"`

	// Gateways are the openNDS routers whose redirects the portal takes.
	// They need not be RADIUS clients (openNDS asks no RADIUS server).
	// Optional: without an entry, an openNDS gateway's auth URL must lie in
	// a RADIUS client's network.
	Gateways []OpenNDSGateway `yaml:"gateways"`
}

// OpenNDSGateway is one openNDS router (or a network of them sharing a
// faskey).
type OpenNDSGateway struct {
	// Name identifies the gateway in logs. Default: the CIDR.
	Name string `yaml:"name"`
	// CIDR holds the gateway's gatewayaddress (its address on the
	// clients' side, the host of its auth URL): "192.168.8.1" or a network.
	// Required.
	CIDR string `yaml:"cidr"`
	// FASKey is this gateway's faskey; default portal.opennds.faskey.
	FASKey string `yaml:"faskey"`
	// Location is the location ID of sign-ins through this gateway when
	// locations[].match places them nowhere. Optional.
	Location string `yaml:"location"`
	// RequireSignature refuses redirects that are not encrypted with the
	// faskey (fas_secure_enabled 2 or 3): level 1 and 4 send the
	// parameters in plain base64, which anyone can write. Leave it out for
	// the default: required when a faskey is known. Set false for a
	// gateway at level 1 (then any device can claim any MAC through it).
	RequireSignature *bool `yaml:"require_signature"`
}

// UniFiConfig is a UniFi Network controller and the site whose guests the
// portal authorises (cmd/stamgr authorize-guest).
type UniFiConfig struct {
	// URL is the controller, e.g. https://unifi.example:8443.
	URL string `yaml:"url"`
	// Site is the controller's site name. Default "default".
	Site string `yaml:"site"`
	// Username and Password are a local controller account allowed to
	// authorise guests.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// UniFiOS is set for UniFi OS consoles (UDM, Cloud Key Gen2+), whose
	// API lives under /proxy/network.
	UniFiOS bool `yaml:"unifi_os"`
	// CAFile is a PEM file with the controller's self-signed certificate or
	// the CA that signed it. Optional: default the system's trusted CAs.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify turns off the check of the controller's
	// certificate: anyone between portal and controller can then read the
	// account's password. Logged as a warning at every start. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// OmadaConfig is a TP-Link Omada controller (software controller, OC200,
// OC300) whose hotspot API authorises guests (External Portal Server,
// hotspot/extPortal/auth).
type OmadaConfig struct {
	// URL is the controller, e.g. https://omada.example:8043.
	URL string `yaml:"url"`
	// ControllerID is the controller's ID (omadacId): the first path
	// element of the controller's web UI after login.
	ControllerID string `yaml:"controller_id"`
	// Username and Password are a hotspot operator (Hotspot Manager →
	// Operators) of the sites whose guests the portal authorises.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TimeUnit is the unit of extPortal/auth's time field: "us"
	// (microseconds, as TP-Link's FAQ 3231 says) or "ms" (some controller
	// releases have been reported to read milliseconds). Default "us".
	TimeUnit string `yaml:"time_unit"`
	// CAFile is a PEM file with the controller's self-signed certificate or
	// the CA that signed it. Optional: default the system's trusted CAs.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify turns off the check of the controller's
	// certificate; logged as a warning at every start. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// WiFi4EUConfig are the WiFi4EU programme's requirements.
type WiFi4EUConfig struct {
	// Networks are the network IDs (networks[].id) funded by WiFi4EU: their
	// pages name the SSID, show the WiFi4EU identity and load the
	// programme's snippet. Default ["wifi4eu"].
	Networks []string `yaml:"networks"`
	// NetworkIdentifier is the network identifier the WiFi4EU portal
	// issued (a UUID). Without it the snippet is not loaded.
	NetworkIdentifier string `yaml:"network_identifier"`
	// SelfTest puts the snippet in self-test mode (selftestModus), for
	// the installation check before go-live.
	SelfTest bool `yaml:"self_test"`
}

// DefaultListen is the default Config.Listen.
const DefaultListen = ":8080"

// DefaultLanguages are the default Config.Languages.
func DefaultLanguages() []string { return []string{"de", "en", "tr", "uk", "ar"} }

// maxTerms bounds the terms text kept in memory and rendered on every splash.
const maxTerms = 16 << 10

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if len(c.Languages) == 0 {
		c.Languages = DefaultLanguages()
	}
	if c.Vendor == "" {
		c.Vendor = "auto"
	}
	if c.MaxConnsPerClient == 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.UniFi.Site == "" {
		c.UniFi.Site = "default"
	}
	if c.Omada.TimeUnit == "" {
		c.Omada.TimeUnit = "us"
	}
	if c.WiFi4EU.Networks == nil {
		c.WiFi4EU.Networks = []string{"wifi4eu"}
	}
	return c
}

// Validate reports the first problem with c, naming its key path
// (portal.listen: …). Zero fields are valid: they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := validListen(c.Listen); err != nil {
		return fmt.Errorf("portal.listen: %q: %w", c.Listen, err)
	}
	for i, l := range c.Languages {
		tag, err := language.Parse(l)
		if err != nil || tag.String() != l {
			return fmt.Errorf("portal.languages[%d]: %q is not a language tag", i, l)
		}
		if _, err := assets.Messages(l); err != nil {
			return fmt.Errorf("portal.languages[%d]: %q has no translations (have %s)", i, l, strings.Join(assets.Languages(), ", "))
		}
		if slices.Index(c.Languages, l) != i {
			return fmt.Errorf("portal.languages[%d]: %q is listed twice", i, l)
		}
	}
	for _, l := range slices.Sorted(maps.Keys(c.Terms)) {
		text := c.Terms[l]
		switch {
		case !slices.Contains(c.Languages, l):
			return fmt.Errorf("portal.terms.%s: language is not in portal.languages", l)
		case strings.TrimSpace(text) == "":
			return fmt.Errorf("portal.terms.%s: is empty", l)
		case len(text) > maxTerms:
			return fmt.Errorf("portal.terms.%s: is %d bytes, at most %d", l, len(text), maxTerms)
		case looksLikeURL(text):
			if _, ok := vendor.ContinueURL(text); !ok {
				return fmt.Errorf("portal.terms.%s: %q is not an absolute http or https URL", l, text)
			}
		}
	}
	if _, err := clientaddr.ParseProxies("portal.trusted_proxies", c.TrustedProxies); err != nil {
		return err
	}
	if c.MaxConnsPerClient < 0 {
		return fmt.Errorf("portal.max_conns_per_client: %d is negative", c.MaxConnsPerClient)
	}
	if !vendor.Known(c.Vendor) {
		return fmt.Errorf("portal.vendor: %q is not one of auto, %s", c.Vendor, strings.Join(vendor.Names(), ", "))
	}
	for i, h := range c.LoginHosts {
		if _, ok := vendor.ContinueURL("http://" + h + "/"); !ok || strings.ContainsAny(h, "/:") {
			return fmt.Errorf("portal.login_hosts[%d]: %q is not a host name", i, h)
		}
	}
	if c.VenueInfoURL != "" {
		if _, ok := vendor.ContinueURL(c.VenueInfoURL); !ok {
			return fmt.Errorf("portal.venue_info_url: %q is not an absolute http or https URL", c.VenueInfoURL)
		}
	}
	if c.UniFi.URL != "" {
		if u, ok := vendor.ContinueURL(c.UniFi.URL); !ok || u == "" {
			return fmt.Errorf("portal.unifi.url: %q is not an absolute http or https URL", c.UniFi.URL)
		}
		if c.UniFi.Username == "" || c.UniFi.Password == "" {
			return fmt.Errorf("portal.unifi.username: a controller account (username and password) is required with portal.unifi.url")
		}
		if strings.ContainsAny(c.UniFi.Site, "/?#% ") {
			return fmt.Errorf("portal.unifi.site: %q is not a site name", c.UniFi.Site)
		}
	}
	if err := validControllerTLS("portal.unifi", c.UniFi.URL, c.UniFi.CAFile, c.UniFi.InsecureSkipVerify); err != nil {
		return err
	}
	if c.Omada.URL != "" {
		if u, ok := vendor.ContinueURL(c.Omada.URL); !ok || u == "" {
			return fmt.Errorf("portal.omada.url: %q is not an absolute http or https URL", c.Omada.URL)
		}
		if c.Omada.ControllerID == "" || len(c.Omada.ControllerID) > 64 || strings.ContainsAny(c.Omada.ControllerID, "/?#%: ") {
			return fmt.Errorf("portal.omada.controller_id: %q is not a controller ID (the omadacId in the controller's web address)", c.Omada.ControllerID)
		}
		if c.Omada.Username == "" || c.Omada.Password == "" {
			return fmt.Errorf("portal.omada.username: a hotspot operator (username and password) is required with portal.omada.url")
		}
	}
	if _, ok := omadaTimeUnits[c.Omada.TimeUnit]; !ok {
		return fmt.Errorf("portal.omada.time_unit: %q is not one of us, ms", c.Omada.TimeUnit)
	}
	if err := validControllerTLS("portal.omada", c.Omada.URL, c.Omada.CAFile, c.Omada.InsecureSkipVerify); err != nil {
		return err
	}
	if id := c.WiFi4EU.NetworkIdentifier; id != "" && !wifi4euID(id) {
		return fmt.Errorf("portal.wifi4eu.network_identifier: %q is not a UUID", id)
	}
	if err := checkFASKey(c.OpenNDS.FASKey); err != nil {
		return fmt.Errorf("portal.opennds.faskey: %w", err)
	}
	names := map[string]int{}
	nets := map[netip.Prefix]int{}
	for i, g := range c.OpenNDS.Gateways {
		key := fmt.Sprintf("portal.opennds.gateways[%d]", i)
		if g.Name != "" {
			if j, dup := names[g.Name]; dup {
				return fmt.Errorf("%s.name: %q is also portal.opennds.gateways[%d].name", key, g.Name, j)
			}
			names[g.Name] = i
		}
		p, err := parseNetwork(g.CIDR)
		if err != nil {
			return fmt.Errorf("%s.cidr: %w", key, err)
		}
		if j, dup := nets[p]; dup {
			return fmt.Errorf("%s.cidr: %q is also portal.opennds.gateways[%d].cidr", key, g.CIDR, j)
		}
		nets[p] = i
		if err := checkFASKey(g.FASKey); err != nil {
			return fmt.Errorf("%s.faskey: %w", key, err)
		}
		if g.RequireSignature != nil && *g.RequireSignature && g.FASKey == "" && c.OpenNDS.FASKey == "" {
			return fmt.Errorf("%s.require_signature: true needs a faskey (here or in portal.opennds.faskey)", key)
		}
	}
	return nil
}

// openNDSGateways are the configured openNDS gateways as access points.
func openNDSGateways(c OpenNDSConfig) []vendor.AccessPoint {
	out := make([]vendor.AccessPoint, 0, len(c.Gateways))
	for _, g := range c.Gateways {
		p, err := parseNetwork(g.CIDR)
		if err != nil {
			continue // Validate refuses it
		}
		name := g.Name
		if name == "" {
			name = g.CIDR
		}
		out = append(out, vendor.AccessPoint{
			Name: name, Network: p, Vendor: vendor.OpenNDS, Location: g.Location,
			FASKey: g.FASKey, RequireSignature: g.RequireSignature,
		})
	}
	return out
}

// checkFASKey accepts what openNDS can hold in its config and hand to
// sha256sum and PHP: printable ASCII without quotes, at most 256 bytes.
func checkFASKey(k string) error {
	if len(k) > 256 {
		return fmt.Errorf("is longer than 256 bytes")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e || k[i] == '"' || k[i] == '\'' {
			return fmt.Errorf("has a quote or a character other than printable ASCII at position %d", i+1)
		}
	}
	return nil
}

// omadaTimeUnits are the units portal.omada.time_unit names.
var omadaTimeUnits = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond}

// validControllerTLS checks a controller's ca_file and insecure_skip_verify
// under key: the CA file must be readable and hold a PEM certificate, and
// the two exclude each other.
func validControllerTLS(key, rawURL, caFile string, insecure bool) error {
	if (caFile != "" || insecure) && rawURL == "" {
		return fmt.Errorf("%s.url: is needed with %s.ca_file or %s.insecure_skip_verify", key, key, key)
	}
	if caFile != "" && insecure {
		return fmt.Errorf("%s.insecure_skip_verify: cannot be combined with %s.ca_file (trust the CA file instead)", key, key)
	}
	if caFile != "" {
		if _, err := (vendor.ControllerTLS{CAFile: caFile}).Config(); err != nil {
			return fmt.Errorf("%s.ca_file: %w", key, err)
		}
	}
	return nil
}

// parseNetwork parses a CIDR or a single address (its own /32 or /128).
func parseNetwork(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is not a network or address", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %q?", s, p.Masked())
	}
	return p, nil
}

// wifi4euID accepts the UUID form of a WiFi4EU network identifier: it is
// written into a script, so nothing else may pass.
func wifi4euID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func validListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port or :port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("host %q is not a host name or address", host)
	}
	return nil
}

func looksLikeURL(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	return !strings.ContainsAny(l, " \n") && (strings.HasPrefix(l, "http:") || strings.HasPrefix(l, "https:"))
}
