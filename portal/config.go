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

	// TrustedProxies are the networks (CIDRs, or single addresses) of
	// reverse proxies in front of the portal. Only requests from them have
	// their X-Forwarded-For and X-Forwarded-Proto believed. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// DefaultListen is the default Config.Listen.
const DefaultListen = ":8080"

// DefaultLanguages are the default Config.Languages.
func DefaultLanguages() []string { return []string{"de", "en"} }

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
			if _, ok := continueURL(text); !ok {
				return fmt.Errorf("portal.terms.%s: %q is not an absolute http or https URL", l, text)
			}
		}
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		return err
	}
	return nil
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
