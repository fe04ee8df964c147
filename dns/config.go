package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// DefaultListen is where the demo site answers DNS (UDP and TCP): loopback,
// and not port 53, so that it runs without privileges next to a system
// resolver.
const DefaultListen = "127.0.0.1:5353"

// DefaultCacheSize is the number of positive and of negative answers the
// cache keeps for signed-in clients.
const DefaultCacheSize = 10000

// MaxTTL bounds the TTL of captive answers: a phone that signs in must not
// keep the portal address for longer than a few seconds.
const MaxTTL = 5

// maxRate bounds rate_limit and rate_burst: more than a server answers.
const maxRate = 1_000_000

// Config is the dns section of the gateway configuration.
type Config struct {
	// Listen is the IP address and port to answer on, over UDP and TCP
	// ("127.0.0.1:5353", "[::1]:5353"; port 0 picks a free port).
	Listen string `yaml:"listen"`
	// PortalIP is the IPv4 address captive clients get for every name.
	PortalIP string `yaml:"portal_ip"`
	// PortalIPv6 is the IPv6 address captive clients get for AAAA queries;
	// empty answers AAAA with no records, so phones fall back to IPv4.
	PortalIPv6 string `yaml:"portal_ipv6"`
	// Upstream are the resolvers signed-in clients and walled-garden names
	// are forwarded to ("10.0.0.53", "192.0.2.1:53"). Empty: such queries
	// are refused, which keeps the demo site from ever leaving the machine.
	Upstream []string `yaml:"upstream"`
	// TTL of captive answers in seconds, 0 to MaxTTL.
	TTL int `yaml:"ttl"`
	// CacheSize is how many answers for signed-in clients are cached; 0
	// turns the cache off.
	CacheSize int `yaml:"cache_size"`
	// WalledGarden are names (and everything below them) resolved for
	// everyone, before sign-in too. The portal's own host and the WiFi4EU
	// collection host are always in it.
	WalledGarden []string `yaml:"walled_garden"`
	// RateLimit is the queries a second one client address may send on
	// average, signed in or not; queries beyond it (and beyond RateBurst)
	// are dropped without an answer and counted (result "ratelimited").
	// 0 turns the limit off.
	RateLimit int `yaml:"rate_limit"`
	// RateBurst is how many queries one client address may send at once
	// before RateLimit applies; at least 1 when RateLimit is set.
	RateBurst int `yaml:"rate_burst"`
	// GardenMaxResponse caps, in bytes, the answers to walled-garden
	// queries of clients without a session (only A, AAAA, CNAME, HTTPS and
	// SVCB are resolved for them); a larger answer becomes REFUSED, so that
	// a garden name cannot carry a DNS tunnel. 512 to 65535.
	GardenMaxResponse int `yaml:"garden_max_response"`
	// QueryLog logs every query (type, name, answer code, duration, never
	// the client address) to standard output. Off by default: per-query
	// logging would be the bottleneck.
	QueryLog bool `yaml:"query_log"`
}

// DefaultConfig is the demo site's DNS: loopback, portal on 127.0.0.1, no
// upstream.
func DefaultConfig() Config {
	return Config{
		Listen: DefaultListen, PortalIP: "127.0.0.1", CacheSize: DefaultCacheSize,
		RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst, GardenMaxResponse: DefaultGardenMaxResponse,
	}
}

// Validate returns every problem, each naming its key path (dns.listen …).
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("dns.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if ap, err := netip.ParseAddrPort(c.Listen); err != nil || ap.Addr().Zone() != "" {
		add("listen", "%q is not an IP address and port (127.0.0.1:5353, [::1]:5353)", c.Listen)
	}
	if a, err := netip.ParseAddr(c.PortalIP); err != nil || !a.Is4() {
		add("portal_ip", "%q is not an IPv4 address", c.PortalIP)
	}
	if c.PortalIPv6 != "" {
		if a, err := netip.ParseAddr(c.PortalIPv6); err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			add("portal_ipv6", "%q is not an IPv6 address", c.PortalIPv6)
		}
	}
	for i, u := range c.Upstream {
		if _, err := upstreamAddr(u); err != nil {
			add(fmt.Sprintf("upstream[%d]", i), "%q is not an IP address with optional port", u)
		}
	}
	if c.TTL < 0 || c.TTL > MaxTTL {
		add("ttl", "%d is not between 0 and %d", c.TTL, MaxTTL)
	}
	if c.CacheSize < 0 {
		add("cache_size", "%d is negative", c.CacheSize)
	}
	if c.RateLimit < 0 || c.RateLimit > maxRate {
		add("rate_limit", "%d is not between 0 (no limit) and %d queries a second", c.RateLimit, maxRate)
	}
	if c.RateLimit > 0 && (c.RateBurst < 1 || c.RateBurst > maxRate) {
		add("rate_burst", "%d is not between 1 and %d queries", c.RateBurst, maxRate)
	}
	if c.GardenMaxResponse < MinGardenMaxResponse || c.GardenMaxResponse > mdns.MaxMsgSize {
		add("garden_max_response", "%d is not between %d and %d bytes", c.GardenMaxResponse, MinGardenMaxResponse, mdns.MaxMsgSize)
	}
	for i, n := range c.WalledGarden {
		if _, ok := canonicalName(n); !ok {
			add(fmt.Sprintf("walled_garden[%d]", i), "%q is not a domain name", n)
		}
	}
	return errors.Join(errs...)
}

// upstreamAddr turns "192.0.2.1" or "192.0.2.1:53" or "[2001:db8::1]:53"
// into an address with port.
func upstreamAddr(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.AddrPortFrom(a, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, err
	}
	if ap.Port() == 0 || ap.Addr().Zone() != "" {
		return ap, fmt.Errorf("dns: upstream %q: no port or a zone", s)
	}
	return ap, nil
}

// canonicalName lower-cases a domain name and makes it fully qualified; ok
// is false for names that are not valid or are the root.
func canonicalName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "." || strings.ContainsAny(s, " \t\"\\;()") || net.ParseIP(strings.TrimSuffix(s, ".")) != nil {
		return "", false
	}
	s = mdns.Fqdn(s)
	if _, ok := mdns.IsDomainName(s); !ok {
		return "", false
	}
	return s, true
}
