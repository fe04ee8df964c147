package vendor

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"roamgate/session"
)

// Limits on parameters. Longer values are refused, not truncated.
const (
	maxSSID   = 32   // IEEE 802.11: an SSID has at most 32 octets
	maxText   = 253  // RADIUS: the longest attribute value (NAS-Identifier, AP names)
	maxURL    = 2048 // a continue or login URL; longer ones are not worth keeping
	maxMAC    = 17   // aa:bb:cc:dd:ee:ff, the longest notation ParseMAC takes
	maxOpaque = 4096 // openNDS's encrypted fas blob
)

// Query looks up one parameter of a redirect (a query or form lookup). The
// returned string need not outlive the call.
type Query func(name string) string

// DeviceMAC parses a MAC in any notation session.ParseMAC accepts that can
// be a device's own address: not multicast, not all zeros.
func DeviceMAC(s string) (session.MAC, bool) {
	if s == "" || len(s) > maxMAC {
		return session.MAC{}, false
	}
	m, err := session.ParseMAC(s)
	if err != nil || m.Multicast() || m.IsZero() {
		return session.MAC{}, false
	}
	return m, true
}

// CleanText accepts UTF-8 text of at most max bytes without control, bidi
// control or line/paragraph separator characters, and returns an owned copy.
// The empty string is accepted (as absent).
func CleanText(s string, max int) (string, bool) {
	if s == "" {
		return "", true
	}
	if len(s) > max || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
			unicode.In(r, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return "", false
		}
	}
	return strings.Clone(s), true
}

// ContinueURL accepts the URL a device wanted before it was sent to the
// portal, if it is safe to send the browser to after sign-in: an absolute
// http or https URL of at most maxURL bytes, made only of the characters RFC
// 3986 allows (so no spaces, controls, backslashes or quotes), with a host
// and no user information. Scheme-relative (//host), javascript:, data: and
// every other scheme are refused. It returns the normalised URL; the empty
// string is accepted (as absent).
func ContinueURL(s string) (string, bool) {
	u, ok := parseHTTPURL(s)
	if !ok {
		return "", false
	}
	if u == nil {
		return "", true
	}
	return u.String(), true
}

func parseHTTPURL(s string) (*url.URL, bool) {
	if s == "" {
		return nil, true
	}
	if len(s) > maxURL {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if !uriChar(s[i]) {
			return nil, false
		}
	}
	lower := strings.ToLower(s[:min(len(s), len("https://"))])
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Opaque != "" || u.User != nil || u.Host == "" {
		return nil, false
	}
	if !validHost(u.Hostname()) {
		return nil, false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, false
	}
	return u, true
}

// uriChar reports whether c may appear in a URI (RFC 3986: unreserved,
// reserved and '%').
func uriChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// validHost accepts a DNS name (letters, digits, '-', '_' and dots) or an IP
// address; an IPv6 address comes without brackets, as url.URL.Hostname
// returns it, and without a zone.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ipAddr parses a client or gateway IP address (no zone).
func ipAddr(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 45 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parser collects validated parameters and counts refused ones.
type parser struct {
	q       Query
	invalid int
	keep    url.Values // valid raw values, carried through the splash form
}

func newParser(q Query) *parser { return &parser{q: q, keep: url.Values{}} }

// get returns a parameter's value (copied) and whether it was present.
func (p *parser) get(name string) string { return strings.Clone(p.q(name)) }

func (p *parser) refuse(name, raw string) {
	if raw != "" {
		p.invalid++
	}
}

func (p *parser) mac(name string) (session.MAC, bool) {
	raw := p.get(name)
	m, ok := DeviceMAC(raw)
	if ok {
		p.keep.Set(name, m.String())
	} else {
		p.refuse(name, raw)
	}
	return m, ok
}

func (p *parser) text(name string, max int) string {
	raw := p.get(name)
	s, ok := CleanText(raw, max)
	if ok && s != "" {
		p.keep.Set(name, s)
	} else if !ok {
		p.refuse(name, raw)
	}
	return s
}

func (p *parser) continueURL(name string) string {
	raw := p.get(name)
	s, ok := ContinueURL(raw)
	if ok && s != "" {
		p.keep.Set(name, raw)
	} else if !ok {
		p.refuse(name, raw)
	}
	return s
}

func (p *parser) ip(name string) netip.Addr {
	raw := p.get(name)
	a, ok := ipAddr(raw)
	if ok {
		p.keep.Set(name, raw)
	} else {
		p.refuse(name, raw)
	}
	return a
}

// token accepts a parameter made of the given alphabet only. A value given
// after alphabet replaces the parameter's own (already repaired input).
func (p *parser) token(name string, max int, alphabet func(byte) bool, value ...string) string {
	raw := p.get(name)
	if len(value) > 0 {
		raw = value[0]
	}
	if raw == "" {
		return ""
	}
	if len(raw) > max {
		p.invalid++
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if !alphabet(raw[i]) {
			p.invalid++
			return ""
		}
	}
	p.keep.Set(name, raw)
	return raw
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isBase64(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}
