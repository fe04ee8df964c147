package portal

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"roamgate/session"
)

// The generic arrival parameters: what an access point (or the DNS redirect)
// tells the portal about a device when it sends it to the splash page. The
// vendor adapters of a later issue turn their own parameters into an arrival
// too (DESIGN §4); this type then moves to portal/vendor.
const (
	paramClientMAC = "client_mac"
	paramAPMAC     = "ap_mac"
	paramSSID      = "ssid"
	paramNASID     = "nas_id"
	paramURL       = "url"

	// paramLang is not an arrival parameter, but an explicit language
	// choice travels with them from the splash to /connect and back.
	paramLang = "lang"
)

// Limits on arrival parameters. Longer values are refused, not truncated.
const (
	maxSSID  = 32   // IEEE 802.11: an SSID has at most 32 octets
	maxNASID = 253  // RADIUS: the longest attribute value
	maxURL   = 2048 // a continue URL; longer ones are not worth keeping
	maxMAC   = 17   // aa:bb:cc:dd:ee:ff, the longest notation ParseMAC takes
)

// arrival is the validated form of the arrival parameters. Every string in it
// is owned (never a view into a request buffer) and safe to show once
// html/template escapes it; fields whose input was invalid are left empty.
type arrival struct {
	ClientMAC session.MAC
	HasMAC    bool
	APMAC     session.MAC
	HasAP     bool
	SSID      string
	NASID     string
	// ContinueURL is an absolute http or https URL without credentials, in
	// its normalised form; empty if absent or refused.
	ContinueURL string
}

// parseArrival validates the arrival parameters that get returns (a query or
// form lookup; its strings need not outlive the call) and reports how many
// were present but refused.
func parseArrival(get func(name string) string) (a arrival, invalid int) {
	check := func(raw string, ok bool) {
		if raw != "" && !ok {
			invalid++
		}
	}
	raw := get(paramClientMAC)
	a.ClientMAC, a.HasMAC = deviceMAC(raw)
	check(raw, a.HasMAC)

	raw = get(paramAPMAC)
	a.APMAC, a.HasAP = deviceMAC(raw)
	check(raw, a.HasAP)

	var ok bool
	raw = get(paramSSID)
	a.SSID, ok = cleanText(raw, maxSSID)
	check(raw, ok)

	raw = get(paramNASID)
	a.NASID, ok = cleanText(raw, maxNASID)
	check(raw, ok)

	raw = get(paramURL)
	a.ContinueURL, ok = continueURL(raw)
	check(raw, ok)
	return a, invalid
}

// fields returns the valid parameters as name, value pairs, to be carried
// through the splash form to POST /connect.
func (a arrival) fields() []field {
	var fs []field
	if a.HasMAC {
		fs = append(fs, field{paramClientMAC, a.ClientMAC.String()})
	}
	if a.HasAP {
		fs = append(fs, field{paramAPMAC, a.APMAC.String()})
	}
	if a.SSID != "" {
		fs = append(fs, field{paramSSID, a.SSID})
	}
	if a.NASID != "" {
		fs = append(fs, field{paramNASID, a.NASID})
	}
	if a.ContinueURL != "" {
		fs = append(fs, field{paramURL, a.ContinueURL})
	}
	return fs
}

// query returns the valid parameters as a query string for a link back to
// the splash page ("" if there are none), with the explicit language if any.
func (a arrival) query(lang string) string {
	v := url.Values{}
	for _, f := range a.fields() {
		v.Set(f.Name, f.Value)
	}
	if lang != "" {
		v.Set(paramLang, lang)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// field is a name and value of a form field.
type field struct{ Name, Value string }

// deviceMAC parses a MAC in any notation ParseMAC accepts that can be a
// device's own address: not multicast, not all zeros.
func deviceMAC(s string) (session.MAC, bool) {
	if s == "" || len(s) > maxMAC {
		return session.MAC{}, false
	}
	m, err := session.ParseMAC(s)
	if err != nil || m.Multicast() || m.IsZero() {
		return session.MAC{}, false
	}
	return m, true
}

// cleanText accepts UTF-8 text of at most max bytes without control, bidi
// control or line/paragraph separator characters, and returns an owned copy.
// The empty string is accepted (as absent).
func cleanText(s string, max int) (string, bool) {
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

// continueURL accepts the URL a device wanted before it was sent to the
// portal, if it is safe to send the browser to after sign-in: an absolute
// http or https URL of at most maxURL bytes, made only of the characters RFC
// 3986 allows (so no spaces, controls, backslashes or quotes), with a host
// and no user information. Scheme-relative (//host), javascript:, data: and
// every other scheme are refused. It returns the normalised URL; the empty
// string is accepted (as absent).
func continueURL(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	if len(s) > maxURL {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !uriChar(s[i]) {
			return "", false
		}
	}
	lower := strings.ToLower(s[:min(len(s), len("https://"))])
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	if !validHost(u.Hostname()) {
		return "", false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	return u.String(), true
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
