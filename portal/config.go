package portal

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"roamgate/assets"
	"roamgate/portal/vendor"
)

// Config configures the portal. A zero field means its default.
type Config struct {
	// Listen is the TCP address the portal serves HTTP on.
	// Default ":8080".
	Listen string `yaml:"listen"`

	// Languages are the languages the pages are offered in, as language
	// tags with translations in assets (de, en). The first is the default;
	// others are chosen by the browser's Accept-Language or ?lang=.
	// Default ["de", "en"].
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
	// mac-auth). Default "auto": a RADIUS client's vendor, else detected
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
	// FASKey is openNDS's faskey: it decrypts level-3 redirects and signs
	// the auth token. Required for openNDS access points.
	FASKey string `yaml:"faskey"`
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
	for _, l := range sortedKeys(c.Terms) {
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
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
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
	if id := c.WiFi4EU.NetworkIdentifier; id != "" && !wifi4euID(id) {
		return fmt.Errorf("portal.wifi4eu.network_identifier: %q is not a UUID", id)
	}
	if len(c.OpenNDS.FASKey) > 256 {
		return fmt.Errorf("portal.opennds.faskey: is longer than 256 bytes")
	}
	return nil
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

// parsePrefixes parses trusted proxy networks; a bare address is its own
// /32 or /128.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("portal.trusted_proxies[%d]: %q is not a network or address", i, s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: client addresses are unmapped.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func looksLikeURL(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	return !strings.ContainsAny(l, " \n") && (strings.HasPrefix(l, "http:") || strings.HasPrefix(l, "https:"))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
