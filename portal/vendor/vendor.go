package vendor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"roamgate/apfamily"
	"roamgate/session"
)

// Names of the adapters: the families of roamgate/apfamily, the one list
// radius.clients[].vendor and portal.vendor are spelled from.
const (
	Generic  = apfamily.Generic
	Coova    = apfamily.Coova // CoovaChilli and OpenWrt uspot
	Cisco    = apfamily.Cisco
	Meraki   = apfamily.Meraki
	Aruba    = apfamily.Aruba
	MikroTik = apfamily.MikroTik
	OpenNDS  = apfamily.OpenNDS
	UniFi    = apfamily.UniFi
	Omada    = apfamily.Omada // TP-Link Omada External Portal Server
	MACAuth  = apfamily.MACAuth
)

// Names lists every adapter name.
func Names() []string { return apfamily.Names() }

// Known reports whether name is an adapter or another name apfamily knows
// for one (or empty or "auto": detect).
func Known(name string) bool {
	_, ok := apfamily.Lookup(name)
	return name == "" || name == "auto" || ok
}

// ErrLoginURL is returned when an access point's login URL is not on a
// configured access-point network or host: following it would make the
// portal an open redirect.
var ErrLoginURL = errors.New("vendor: login URL is not a configured access point")

// ErrNoLogin is returned by Authorize when the arrival lacks what the
// vendor's authorisation step needs (a login URL, a challenge).
var ErrNoLogin = errors.New("vendor: arrival has no usable login parameters")

// Arrival is what an access point told the portal about a device, validated.
// Every string is owned and safe to show once html/template escapes it;
// fields whose input was invalid are left zero.
type Arrival struct {
	// Vendor is the adapter that parsed the arrival.
	Vendor    string
	ClientMAC session.MAC
	HasMAC    bool
	APMAC     session.MAC
	HasAP     bool
	ClientIP  netip.Addr
	SSID      string
	NASID     string
	// ContinueURL is where the device wanted to go: an absolute http(s) URL,
	// normalised; empty if absent or refused.
	ContinueURL string
	// LoginURL is the access point's login or auth URL, checked against the
	// configured access points; empty if absent or refused.
	LoginURL string
	// Challenge is the CHAP challenge (CoovaChilli, MikroTik), ChapID the
	// CHAP identifier (MikroTik).
	Challenge []byte
	ChapID    byte
	// Click marks Meraki click-through (grant URL) rather than sign-on.
	Click bool
	// LoggedIn is set when the access point reports that the device is
	// already let through (CoovaChilli's res=success or res=already after
	// a logon, Cisco's statusCode=1): no step is needed.
	LoggedIn bool
	// LoginRefused is set when the access point reports that it refused the
	// login the portal's step sent (Cisco's statusCode 3, 4 or 5): the
	// device is not online.
	LoginRefused bool
	// Secret is vendor state the step needs and the page never shows: the
	// openNDS hid.
	Secret string
	// Params are the valid vendor parameters as they came, to be carried
	// through the splash form to POST /connect, where they are parsed again.
	// A signed redirect is carried whole, as ParamRedirect, so that it can
	// be verified again.
	Params url.Values

	// Signature says whether the access point signed the redirect and
	// whether the signature verified (see signature.go).
	Signature Signature
	// SignatureRequired is set when the access point's configuration
	// requires a valid signature: the portal refuses the arrival unless
	// Signature is SignatureValid.
	SignatureRequired bool
	// AccessPoint names the configured access point the arrival came
	// through (found by the address its login URL names); empty if none.
	AccessPoint string
	// Location is that access point's configured location, for arrivals
	// that locations[].match places nowhere; empty if none.
	Location string

	// key is the access point's key (uamsecret, faskey) the step uses;
	// dialect a variant of the family ("uspot").
	key, dialect string
}

// Credentials are what the device signs in at the access point with.
type Credentials struct {
	// Username is the session ID, Password the session's UAM secret.
	Username, Password string
	// Seconds is the time the session has left, for controllers that grant
	// access for a duration (UniFi, Meraki click-through).
	Seconds int
}

// StepKind says what the browser (or the portal) does to authorise a device.
type StepKind int

const (
	// StepContinue: nothing to do at the access point; send the browser to
	// Step.URL (the continue URL, or empty for the status page).
	StepContinue StepKind = iota
	// StepRedirect: send the browser to Step.URL (a GET login URL).
	StepRedirect
	// StepForm: render a form that posts Step.Fields to Step.URL.
	StepForm
)

// Step is an adapter's authorisation step.
type Step struct {
	Kind   StepKind
	URL    string
	Fields []Field
	// Reauthorize asks the portal to have RADIUS re-authorise the device
	// (CoA) before the browser continues: MAC authentication.
	Reauthorize bool
	// Continue is where the browser goes after the access point let it in,
	// when the access point does not redirect itself.
	Continue string
	// Query marks a StepForm whose access point takes the same fields as a
	// GET query on URL (MikroTik). The portal uses that instead of the form
	// when the form would post from an https page to an http URL, which
	// Chrome interrupts with a full-page warning.
	Query bool
}

// Field is a form field's name and value.
type Field struct{ Name, Value string }

// Controller authorises a device through a UniFi controller's API.
type Controller interface {
	AuthorizeGuest(ctx context.Context, client, ap session.MAC, hasAP bool, minutes int) error
}

// Config is what the adapters need to know about the site.
type Config struct {
	// APNetworks are the networks access points are in: login URLs must
	// point into them (or at LoginHosts).
	APNetworks []netip.Prefix
	// LoginHosts are host names login URLs may point at besides addresses
	// in APNetworks (a MikroTik hotspot dns-name, Cisco's virtual host
	// name), compared case-insensitively and exactly.
	LoginHosts []string
	// AccessPoints are the configured access points with their keys and
	// signature requirements (RADIUS clients, openNDS gateways).
	AccessPoints []AccessPoint
	// CoovaUAMSecret is CoovaChilli's uamsecret (HS_UAMSECRET) for access
	// points without their own: it signs redirects (md=) and is mixed into
	// the CHAP challenge; empty if unset.
	CoovaUAMSecret string
	// CoovaPAP makes CoovaChilli logins use PAP instead of CHAP.
	CoovaPAP bool
	// OpenNDSKey is openNDS's faskey for gateways without their own: it
	// decrypts level-2/3 arrivals and hashes the hid into the auth token.
	OpenNDSKey string
	// UniFi authorises guests on a UniFi controller; nil if none is
	// configured.
	UniFi Controller
	// Omada authorises guests on an Omada controller; nil if none is
	// configured.
	Omada OmadaAuthorizer
}

// Adapter is one access-point family.
type Adapter interface {
	// Name is the adapter's name (Generic, Coova …).
	Name() string
	// Detect reports whether a redirect's parameters look like this vendor's.
	Detect(q Query) bool
	// Parse validates the redirect's parameters and returns the arrival and
	// the number of parameters that were present but refused.
	Parse(q Query, cfg *Config) (Arrival, int)
	// Authorize returns the step that lets the signed-in device through.
	Authorize(ctx context.Context, a Arrival, cfg *Config, cred Credentials) (Step, error)
}

var adapters = map[string]Adapter{
	Generic:  generic{name: Generic},
	MACAuth:  generic{name: MACAuth, reauth: true},
	Coova:    coova{},
	Cisco:    cisco{},
	Meraki:   meraki{},
	Aruba:    aruba{},
	MikroTik: mikrotik{},
	OpenNDS:  opennds{},
	UniFi:    unifi{},
	Omada:    omada{},
}

// detectOrder is the order adapters are tried in; the generic one matches
// everything and comes last.
var detectOrder = []string{OpenNDS, Coova, MikroTik, Cisco, Meraki, Aruba, UniFi, Omada}

// Get returns the adapter of the family name belongs to (name may be any
// name apfamily knows: a family, an implementation such as uspot, an alias).
func Get(name string) (Adapter, bool) {
	k, ok := apfamily.Lookup(name)
	if !ok || name == "" {
		return nil, false
	}
	a, ok := adapters[k.Family]
	return a, ok
}

// Detect returns the adapter whose parameters q carries, or the generic one.
func Detect(q Query) Adapter {
	for _, name := range detectOrder {
		if a := adapters[name]; a.Detect(q) {
			return a
		}
	}
	return adapters[Generic]
}

// loginURL checks an access point's login URL against cfg and the vendor's
// own well-known hosts, and returns it normalised.
func (cfg *Config) loginURL(raw string, vendorHosts ...string) (*url.URL, error) {
	u, ok := parseHTTPURL(raw)
	if !ok || u == nil {
		return nil, fmt.Errorf("%w: malformed", ErrLoginURL)
	}
	if u.RawQuery != "" && len(u.Query()) > 16 {
		return nil, fmt.Errorf("%w: too many query parameters", ErrLoginURL)
	}
	if !cfg.allowedHost(u.Hostname(), vendorHosts...) {
		return nil, ErrLoginURL
	}
	u.Fragment = ""
	return u, nil
}

func (cfg *Config) allowedHost(host string, vendorHosts ...string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, p := range cfg.APNetworks {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, h := range cfg.LoginHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	for _, h := range vendorHosts {
		if host == h || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
			return true
		}
	}
	return false
}

// continueStep is the step of a vendor with nothing to do at the access
// point.
func continueStep(a Arrival) Step { return Step{Kind: StepContinue, URL: a.ContinueURL} }

// generic is the portal's own parameters (client_mac, ap_mac, ssid, nas_id,
// url): the captive DNS redirect and access points configured to send them.
// As mac-auth it also asks for a CoA once the device has signed in.
type generic struct {
	name   string
	reauth bool
}

func (g generic) Name() string      { return g.name }
func (g generic) Detect(Query) bool { return true }

func (g generic) Parse(q Query, _ *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: g.name}
	a.ClientMAC, a.HasMAC = p.mac("client_mac")
	a.APMAC, a.HasAP = p.mac("ap_mac")
	a.SSID = p.text("ssid", maxSSID)
	a.NASID = p.text("nas_id", maxText)
	a.ContinueURL = p.continueURL("url")
	a.Params = p.keep
	return a, p.invalid
}

func (g generic) Authorize(_ context.Context, a Arrival, _ *Config, _ Credentials) (Step, error) {
	s := continueStep(a)
	s.Reauthorize = g.reauth
	return s, nil
}
