package vendor

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"

	"roamgate/apfamily"
)

// Signature says what the portal could verify of a redirect's origin.
type Signature uint8

const (
	// Unsigned: the redirect carries no signature, or no key is configured
	// to check it with. Its parameters are whatever the browser sent.
	Unsigned Signature = iota
	// SignatureValid: the redirect is signed with the access point's key
	// (CoovaChilli/uspot md=), or encrypted with it (openNDS FAS level 2/3).
	SignatureValid
	// SignatureInvalid: a key is configured but the signature does not
	// verify (or the encrypted fas does not decrypt): forged or altered.
	SignatureInvalid
)

func (s Signature) String() string {
	switch s {
	case SignatureValid:
		return "valid"
	case SignatureInvalid:
		return "invalid"
	}
	return "unsigned"
}

// ParamRedirect carries a signed redirect whole: the URL the access point
// sent the browser to, exactly as the browser asked for it. On GET / the
// portal answers this name with the URL it was requested at (scheme, Host,
// path and raw query: the string the access point signed); the splash form
// carries the verified URL in a hidden field of this name to POST /connect
// and /continue, where it is verified again. A signature covers one string,
// so the parameters cannot travel one by one as they do unsigned.
const ParamRedirect = "ap_redirect"

// maxRedirect bounds a signed redirect URL: the portal URL plus up to
// fifteen parameters of at most maxURL (userurl) each is far less.
const maxRedirect = 2 * maxURL

// AccessPoint is what the site configured about one network of access
// points: a RADIUS client (radius.clients[]) or an openNDS gateway
// (portal.opennds.gateways[]). An arrival belongs to the access point whose
// network holds the address its login URL names (CoovaChilli's uamip,
// openNDS's gatewayaddress); the longest prefix wins.
type AccessPoint struct {
	// Name identifies the access point in logs.
	Name string
	// Network holds the access point's address on the clients' side.
	Network netip.Prefix
	// Vendor is the family as configured, aliases kept ("uspot").
	Vendor string
	// Location is the location ID of sign-ins here when
	// locations[].match places them nowhere.
	Location string
	// UAMSecret is the CoovaChilli/uspot uamsecret; empty means
	// Config.CoovaUAMSecret.
	UAMSecret string
	// FASKey is the openNDS faskey; empty means Config.OpenNDSKey.
	FASKey string
	// RequireSignature refuses redirects without a valid signature; nil
	// means: required when a key is known.
	RequireSignature *bool
}

// requires reports whether the access point requires a signature when key
// is the key it signs with.
func (ap *AccessPoint) requires(key string) bool {
	if ap != nil && ap.RequireSignature != nil {
		return *ap.RequireSignature
	}
	return key != ""
}

// accessPointsFor returns the configured access points whose network holds
// a, longest prefix first.
func (cfg *Config) accessPointsFor(a netip.Addr) []*AccessPoint {
	if !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	var out []*AccessPoint
	for i := range cfg.AccessPoints {
		if cfg.AccessPoints[i].Network.Contains(a) {
			out = append(out, &cfg.AccessPoints[i])
		}
	}
	slices.SortStableFunc(out, func(x, y *AccessPoint) int { return y.Network.Bits() - x.Network.Bits() })
	return out
}

// place records the access point an arrival came through.
func (a *Arrival) place(ap *AccessPoint) {
	if ap == nil {
		return
	}
	a.AccessPoint, a.Location = ap.Name, ap.Location
	if k, _ := apfamily.Lookup(ap.Vendor); k.Impl == apfamily.USpot {
		a.dialect = apfamily.USpot
	}
}

// CoovaMD is the md= CoovaChilli and uspot append to their redirect: the
// MD5 of the URL up to that point and the uamsecret, in upper-case hex.
// CoovaChilli: src/redir.c:631-660 (redir_md_param, "%.2X", over the whole
// Location URL built by bstring_buildurl from HS_UAMFORMAT on, amp "&");
// uspot: files/usr/share/uspot/portal.uc:164-165 with src/uam.c:122-146
// (uc_md5, "%02hhX").
func CoovaMD(signed, uamSecret string) string {
	h := md5.New()
	h.Write([]byte(signed))
	h.Write([]byte(uamSecret))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// splitCoovaSigned splits a redirect URL into the string its md= signs and
// the md, and returns the signed query. The signed string ends where the
// first "&md=" begins; nothing after the md is signed, so nothing after it
// is read. ok is false when there is no well-formed md.
func splitCoovaSigned(raw string) (signed, query, md string, ok bool) {
	if len(raw) > maxRedirect {
		return "", "", "", false
	}
	// The prefix (the portal URL as the access point has it) ends at the
	// first '?': the split is then the access point's own, and every
	// parameter the portal reads lies in the signed query.
	prefix, q, found := strings.Cut(raw, "?")
	if !found || prefix == "" || strings.ContainsAny(prefix, "# ") {
		return "", "", "", false
	}
	i := strings.Index(q, "&md=")
	if i < 0 {
		return "", "", "", false
	}
	md, _, _ = strings.Cut(q[i+len("&md="):], "&")
	if len(md) != 2*md5.Size || strings.IndexFunc(md, func(r rune) bool { return r > 0x7f || !isHex(byte(r)) }) >= 0 {
		return "", "", "", false
	}
	return prefix + "?" + q[:i], q[:i], md, true
}

// coovaSigned reports whether md signs signed with uamSecret. Browsers
// percent-encode some characters of a Location they follow (space, quotes,
// <, >, and non-ASCII bytes); uspot does not escape ssid, nasid or called,
// so a second candidate undoes that escaping.
func coovaSigned(signed, uamSecret, md string) bool {
	want, err := hex.DecodeString(md)
	if err != nil {
		return false
	}
	for _, s := range []string{signed, undoBrowserEscapes(signed)} {
		got, _ := hex.DecodeString(CoovaMD(s, uamSecret))
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return true
		}
		if !strings.Contains(signed, "%") {
			break
		}
	}
	return false
}

// undoBrowserEscapes decodes the %XX a browser writes for characters it
// may not send raw in a query (the WHATWG URL standard's special-query
// percent-encode set, and bytes above 0x7f); other escapes stay.
func undoBrowserEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil && s[i+1:i+3] == strings.ToUpper(s[i+1:i+3]) {
				if c := v[0]; c == ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c >= 0x80 {
					b.WriteByte(c)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// verifyCoova decides an arrival's signature and access point: uamip picks
// the configured access points (longest prefix first), each with its
// uamsecret or the site's; a signed redirect belongs to the first whose
// secret verifies it. The arrival keeps that secret for the logon.
func (cfg *Config) verifyCoova(a *Arrival, uamip netip.Addr, signed, md string, hasMD bool) {
	type candidate struct {
		ap  *AccessPoint
		key string
	}
	var cands []candidate
	for _, ap := range cfg.accessPointsFor(uamip) {
		key := ap.UAMSecret
		if key == "" {
			key = cfg.CoovaUAMSecret
		}
		cands = append(cands, candidate{ap, key})
	}
	if len(cands) == 0 {
		cands = []candidate{{nil, cfg.CoovaUAMSecret}}
	}
	chosen := cands[0]
	if hasMD {
		for _, c := range cands {
			if c.key == "" {
				continue
			}
			a.Signature = SignatureInvalid
			if coovaSigned(signed, c.key, md) {
				chosen, a.Signature = c, SignatureValid
				break
			}
		}
	}
	a.key = chosen.key
	a.SignatureRequired = chosen.ap.requires(chosen.key)
	a.place(chosen.ap)
}
