package vendor

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"roamgate/apfamily"
)

// CoovaChilli and OpenWrt's uspot redirect with
// res=notyet&uamip=…&uamport=…&challenge=…&called=…&mac=…&ip=…&nasid=…&sessionid=…&userurl=…&md=…
// and take the login as GET http://uamip:uamport/logon?username=…&response=…
// (CHAP) or …&password=… (PAP, the password XORed with the challenge).
//
// With a uamsecret both sign the redirect: md= is the MD5 of everything
// before it and the secret (CoovaMD). The portal verifies it where a secret
// is configured for the uamip's access point, reads only the signed
// parameters, and carries the signed URL whole through the splash form
// (ParamRedirect) so that POST /connect verifies it again.
type coova struct{}

func (coova) Name() string { return Coova }
func (coova) Detect(q Query) bool {
	if _, query, _, ok := splitCoovaSigned(q(ParamRedirect)); ok {
		q = queryLookup(query)
	}
	return q("uamip") != "" && (q("challenge") != "" || q("res") != "")
}

func (coova) Parse(q Query, cfg *Config) (Arrival, int) {
	raw := q(ParamRedirect)
	signed, query, md, hasMD := splitCoovaSigned(raw)
	if hasMD {
		// Only the signed part counts: a parameter after md= (or one the
		// browser added to the form) is nobody's word.
		q = queryLookup(query)
	}
	a, invalid, uamip := parseCoova(q, cfg)
	cfg.verifyCoova(&a, uamip, signed, md, hasMD)
	if hasMD {
		a.Params = url.Values{ParamRedirect: {signed + "&md=" + md}}
	}
	return a, invalid
}

// queryLookup looks parameters up in a raw query string.
func queryLookup(raw string) Query {
	v, _ := url.ParseQuery(raw) // the valid pairs; a broken one is absent
	return v.Get
}

func parseCoova(q Query, cfg *Config) (Arrival, int, netip.Addr) {
	p := newParser(q)
	a := Arrival{Vendor: Coova}
	switch p.token("res", 16, isAlnum) {
	case "success", "already":
		a.LoggedIn = true
	}
	a.ClientMAC, a.HasMAC = p.mac("mac")
	a.APMAC, a.HasAP = p.mac("called")
	a.ClientIP = p.ip("ip")
	a.NASID = p.text("nasid", maxText)
	a.SSID = p.text("ssid", maxSSID)
	p.token("sessionid", 64, isAlnum)
	a.ContinueURL = p.continueURL("userurl")
	if ch := p.token("challenge", 32, isHex); len(ch) == 32 {
		a.Challenge, _ = hex.DecodeString(ch)
	} else if ch != "" {
		p.invalid++
		p.keep.Del("challenge")
	}
	uamip := p.ip("uamip")
	port := p.token("uamport", 5, isDigit)
	if uamip.IsValid() {
		n, err := strconv.Atoi(port)
		if port == "" {
			n, err = 3990, nil // CoovaChilli's default uamport
		}
		if err == nil && n > 0 && n < 65536 {
			u, err := cfg.loginURL("http://" + netip.AddrPortFrom(uamip, uint16(n)).String() + "/logon")
			if err == nil {
				a.LoginURL = u.String()
			} else {
				p.invalid++
			}
		}
	}
	a.Params = p.keep
	return a, p.invalid, uamip
}

func (coova) Authorize(_ context.Context, a Arrival, cfg *Config, cred Credentials) (Step, error) {
	if a.LoginURL == "" || len(a.Challenge) != md5.Size {
		return Step{}, ErrNoLogin
	}
	chal := CoovaChallenge(a.Challenge, a.key)
	v := url.Values{"username": {cred.Username}}
	switch {
	case cfg.CoovaPAP && a.dialect == apfamily.USpot && a.key == "":
		// uspot without a uam_secret takes the password as it is
		// (files/usr/share/uspot/handler-uam.uc:28-29); CoovaChilli XORs
		// it with the challenge either way (src/redir.c:2845-2857).
		v.Set("password", cred.Password)
	case cfg.CoovaPAP:
		pw, err := CoovaPAP(cred.Password, chal)
		if err != nil {
			return Step{}, err
		}
		v.Set("password", pw)
	default:
		v.Set("response", CHAPResponse(0, cred.Password, chal))
	}
	if a.ContinueURL != "" {
		v.Set("userurl", a.ContinueURL)
	}
	return Step{Kind: StepRedirect, URL: a.LoginURL + "?" + v.Encode()}, nil
}

// CoovaChallenge is the challenge CoovaChilli checks a response against: its
// own challenge, hashed with the uamsecret if one is set.
func CoovaChallenge(challenge []byte, uamSecret string) []byte {
	if uamSecret == "" {
		return challenge
	}
	h := md5.New()
	h.Write(challenge)
	h.Write([]byte(uamSecret))
	return h.Sum(nil)
}

// CHAPResponse is the RFC 1994 response MD5(id ‖ secret ‖ challenge), in hex.
func CHAPResponse(id byte, secret string, challenge []byte) string {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	return hex.EncodeToString(h.Sum(nil))
}

// CoovaPAP is the password parameter of a CoovaChilli PAP logon: the
// password XORed with the challenge, in hex. CoovaChilli decodes only one
// challenge length (16 octets) of it.
func CoovaPAP(password string, challenge []byte) (string, error) {
	if len(password) > len(challenge) {
		return "", fmt.Errorf("vendor: coova PAP carries at most %d octets of password, have %d", len(challenge), len(password))
	}
	out := make([]byte, len(challenge))
	for i := range out {
		var c byte
		if i < len(password) {
			c = password[i]
		}
		out[i] = c ^ challenge[i]
	}
	return hex.EncodeToString(out), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Cisco WLC (web-auth with an external portal) redirects with
// switch_url=https://1.1.1.1/login.html&ap_mac=…&client_mac=…&wlan=…&redirect=…
// and takes a POST of buttonClicked=4, username, password, redirect_url to
// switch_url. After a login it redirects to the portal again with
// statusCode=N when it did not let the device through. Cisco's sample
// external login page (the webauth bundle's login.html, Cisco Wireless LAN
// Controller Configuration Guide 7.4, "Managing Web Authentication" →
// "Customized Web Authentication Login Page Example") names them:
//
//	1 You are already logged in. No further action is required on your part.
//	2 You are not configured to authenticate against web portal. No further
//	  action is required on your part.
//	3 The username specified cannot be used at this time. Perhaps the
//	  username is already logged into the system?
//	4 You have been excluded. (Some bundles: wrong username and password.)
//	5 The User Name and Password combination you have entered is invalid.
//
// 1 and 2 need no step (LoggedIn); 3 to 5, and any other code, are a refused
// login (LoginRefused).
type cisco struct{}

func (cisco) Name() string        { return Cisco }
func (cisco) Detect(q Query) bool { return q("switch_url") != "" }

func (cisco) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: Cisco}
	a.ClientMAC, a.HasMAC = p.mac("client_mac")
	a.APMAC, a.HasAP = p.mac("ap_mac")
	a.SSID = p.text("wlan", maxSSID)
	switch code := p.token("statusCode", 2, isDigit); code {
	case "", "0":
	case "1", "2":
		a.LoggedIn = true
	default:
		a.LoginRefused = true
	}
	// The WLC sends the original URL without a scheme ("www.example.com/").
	if raw := p.get("redirect"); raw != "" {
		full := raw
		if !strings.Contains(raw, "://") {
			full = "http://" + raw
		}
		if u, ok := ContinueURL(full); ok {
			a.ContinueURL = u
			p.keep.Set("redirect", raw)
		} else {
			p.invalid++
		}
	}
	if raw := p.get("switch_url"); raw != "" {
		if u, err := cfg.loginURL(raw); err == nil {
			a.LoginURL = u.String()
			p.keep.Set("switch_url", raw)
		} else {
			p.invalid++
		}
	}
	a.Params = p.keep
	return a, p.invalid
}

func (cisco) Authorize(_ context.Context, a Arrival, _ *Config, cred Credentials) (Step, error) {
	if a.LoginURL == "" {
		return Step{}, ErrNoLogin
	}
	return Step{Kind: StepForm, URL: a.LoginURL, Fields: []Field{
		{"buttonClicked", "4"},
		{"err_flag", "0"},
		{"username", cred.Username},
		{"password", cred.Password},
		{"redirect_url", a.ContinueURL},
	}}, nil
}

// Meraki sign-on splash redirects with
// login_url=https://n143.network-auth.com/splash/login?mauth=…&continue_url=…&ap_mac=…&client_mac=…&client_ip=…
// and takes a POST of username, password, success_url to login_url (Meraki
// then asks our RADIUS). Click-through redirects with base_grant_url and
// user_continue_url, and is granted by GET base_grant_url?continue_url=…&duration=….
type meraki struct{}

// merakiHosts are the cloud names Meraki access points intercept.
var merakiHosts = []string{".network-auth.com"}

func (meraki) Name() string { return Meraki }
func (meraki) Detect(q Query) bool {
	return q("base_grant_url") != "" || (q("login_url") != "" && q("continue_url") != "")
}

func (meraki) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: Meraki}
	a.ClientMAC, a.HasMAC = p.mac("client_mac")
	a.APMAC, a.HasAP = p.mac("ap_mac")
	if !a.HasAP {
		a.APMAC, a.HasAP = p.mac("node_mac")
	}
	a.ClientIP = p.ip("client_ip")
	a.NASID = p.text("ap_name", maxText)
	p.text("node_id", 32)
	p.text("gateway_id", 32)
	loginParam := "login_url"
	a.ContinueURL = p.continueURL("continue_url")
	if p.get("base_grant_url") != "" {
		a.Click, loginParam = true, "base_grant_url"
		a.ContinueURL = p.continueURL("user_continue_url")
	}
	if raw := p.get(loginParam); raw != "" {
		if u, err := cfg.loginURL(raw, merakiHosts...); err == nil {
			a.LoginURL = u.String()
			p.keep.Set(loginParam, raw)
		} else {
			p.invalid++
		}
	}
	a.Params = p.keep
	return a, p.invalid
}

func (meraki) Authorize(_ context.Context, a Arrival, _ *Config, cred Credentials) (Step, error) {
	if a.LoginURL == "" {
		return Step{}, ErrNoLogin
	}
	if a.Click {
		u, _ := url.Parse(a.LoginURL) // checked by Parse
		v := u.Query()
		if a.ContinueURL != "" {
			v.Set("continue_url", a.ContinueURL)
		}
		if cred.Seconds > 0 {
			v.Set("duration", strconv.Itoa(cred.Seconds))
		}
		u.RawQuery = v.Encode()
		return Step{Kind: StepRedirect, URL: u.String()}, nil
	}
	return Step{Kind: StepForm, URL: a.LoginURL, Fields: []Field{
		{"username", cred.Username},
		{"password", cred.Password},
		{"success_url", a.ContinueURL},
	}}, nil
}

// Aruba Instant redirects with
// cmd=login&mac=…&essid=…&ip=…&apname=…&apmac=…&vcname=…&switchip=…&url=…
// and takes a POST of user, password (and cmd=authenticate) to
// https://<switchip or securelogin.arubanetworks.com>/cgi-bin/login.
//
// Aruba Instant On ("Aruba Instant On External Captive Portal —
// Configuration & Parameters") redirects with
// cmd=Login&mac=…&ip=…&network=<SSID>&apmac=…&site=<site name>&post=<host>&url=…
// and takes the same POST at https://<post>/cgi-bin/login. The document
// names the parameters; the form fields and the host Instant On's AP
// intercepts (captiveportal-login.arubainstanton.com) are taken from
// portals that work with it, not from Aruba.
type aruba struct{}

var (
	arubaHosts     = []string{"securelogin.arubanetworks.com"}
	instantOnHosts = []string{"captiveportal-login.arubainstanton.com"}
)

func (aruba) Name() string { return Aruba }
func (aruba) Detect(q Query) bool {
	return strings.EqualFold(q("cmd"), "login") &&
		(q("essid") != "" || q("apname") != "" || q("apmac") != "" || q("network") != "" || q("site") != "")
}

func (aruba) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: Aruba}
	p.token("cmd", 16, isAlnum)
	a.ClientMAC, a.HasMAC = p.mac("mac")
	a.APMAC, a.HasAP = p.mac("apmac")
	a.ClientIP = p.ip("ip")
	a.SSID = p.text("essid", maxSSID)
	a.NASID = p.text("apname", maxText)
	p.text("vcname", maxText)
	a.ContinueURL = p.continueURL("url")
	// Instant On: the SSID is "network", the site its location. Both are
	// always sent (and kept), so the arrival parses the same way again at
	// /connect.
	network, site := p.text("network", maxSSID), p.text("site", maxText)
	if a.SSID == "" {
		a.SSID = network
	}
	if a.NASID == "" {
		a.NASID = site
	}
	instantOn := network != "" || site != ""
	param, hosts := "switchip", arubaHosts
	if instantOn && p.get("switchip") == "" {
		param, hosts = "post", instantOnHosts
	}
	host := p.get(param)
	switch {
	case host == "" && param == "post":
		// Instant On names its login host; without it there is none.
	case host == "":
		host = arubaHosts[0]
		fallthrough
	default:
		if !validHost(host) {
			p.invalid++
			break
		}
		u, err := cfg.loginURL("https://"+host+"/cgi-bin/login", hosts...)
		if err != nil {
			p.invalid++
			break
		}
		a.LoginURL = u.String()
		if p.get(param) != "" {
			p.keep.Set(param, host)
		}
	}
	a.Params = p.keep
	return a, p.invalid
}

func (aruba) Authorize(_ context.Context, a Arrival, _ *Config, cred Credentials) (Step, error) {
	if a.LoginURL == "" {
		return Step{}, ErrNoLogin
	}
	return Step{Kind: StepForm, URL: a.LoginURL, Fields: []Field{
		{"cmd", "authenticate"},
		{"user", cred.Username},
		{"password", cred.Password},
		{"url", a.ContinueURL},
	}}, nil
}

// MikroTik's hotspot (with an external login page that posts back) redirects
// with link-login-only=http://10.5.50.1/login&mac=…&ip=…&chap-id=\ooo&chap-challenge=\ooo…&link-orig=…
// and takes a POST of username, password = MD5(chap-id ‖ password ‖
// chap-challenge) in hex, dst and popup=false to link-login-only.
//
// A hotspot with login-by=https and a certificate hands out https login
// links; when either link-login-only or link-login is https, the step posts
// there, so the credentials travel encrypted and an https portal page never
// posts to http (see Step.Query for when only http is offered).
type mikrotik struct{}

func (mikrotik) Name() string { return MikroTik }
func (mikrotik) Detect(q Query) bool {
	return q("link-login-only") != "" || q("link-login") != ""
}

func (mikrotik) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: MikroTik}
	a.ClientMAC, a.HasMAC = p.mac("mac")
	a.ClientIP = p.ip("ip")
	a.NASID = p.text("identity", maxText)
	a.ContinueURL = p.continueURL("link-orig")
	for _, param := range []string{"link-login-only", "link-login"} {
		raw := p.get(param)
		if raw == "" {
			continue
		}
		u, err := cfg.loginURL(raw)
		if err != nil {
			p.invalid++
			continue
		}
		p.keep.Set(param, raw)
		u.RawQuery = "" // link-login carries dst=; the form sends its own
		// The first valid link wins, unless a later one is https and it
		// is not.
		if a.LoginURL == "" || (u.Scheme == "https" && !strings.HasPrefix(a.LoginURL, "https:")) {
			a.LoginURL = u.String()
		}
	}
	if raw := p.get("chap-id"); raw != "" {
		if id, err := MikroTikOctets(raw); err == nil && len(id) == 1 {
			a.ChapID = id[0]
			p.keep.Set("chap-id", raw)
			if raw := p.get("chap-challenge"); raw != "" {
				if ch, err := MikroTikOctets(raw); err == nil && len(ch) >= 1 && len(ch) <= 64 {
					a.Challenge = ch
					p.keep.Set("chap-challenge", raw)
				} else {
					p.invalid++
				}
			}
		} else {
			p.invalid++
		}
	}
	a.Params = p.keep
	return a, p.invalid
}

func (mikrotik) Authorize(_ context.Context, a Arrival, _ *Config, cred Credentials) (Step, error) {
	if a.LoginURL == "" {
		return Step{}, ErrNoLogin
	}
	pw := cred.Password
	if len(a.Challenge) > 0 {
		pw = CHAPResponse(a.ChapID, cred.Password, a.Challenge)
	}
	// RouterOS's /login servlet reads the same fields from a GET query as
	// from a POST body (community-confirmed, not in MikroTik's manual: see
	// deploy/access-points/mikrotik.md), so the portal may hand them over
	// by a redirect when a form would post from https to http.
	return Step{Kind: StepForm, URL: a.LoginURL, Query: true, Fields: []Field{
		{"username", cred.Username},
		{"password", pw},
		{"dst", a.ContinueURL},
		{"popup", "false"},
	}}, nil
}

// MikroTikOctets decodes MikroTik's $(chap-id) and $(chap-challenge): every
// octet as a three-digit octal escape (\357), printable ASCII also as itself.
func MikroTikOctets(s string) ([]byte, error) {
	if len(s) > 4*64 {
		return nil, fmt.Errorf("vendor: mikrotik octets: too long")
	}
	var out []byte
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("vendor: mikrotik octets: byte %#x", c)
			}
			out = append(out, c)
			i++
			continue
		}
		if i+4 > len(s) {
			return nil, fmt.Errorf("vendor: mikrotik octets: short escape")
		}
		n, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return nil, fmt.Errorf("vendor: mikrotik octets: %q", s[i:i+4])
		}
		out = append(out, byte(n))
		i += 4
	}
	return out, nil
}
