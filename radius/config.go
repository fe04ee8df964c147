package radius

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"roamgate/apfamily"
)

// Config is the `radius` section of the gateway configuration. The zero value
// is not useful: start from DefaultConfig, which is the demo site.
type Config struct {
	// AuthListen is the UDP address for Access-Requests.
	// Default "127.0.0.1:1812".
	AuthListen string `yaml:"auth_listen"`

	// AcctListen is the UDP address for Accounting-Requests.
	// Default "127.0.0.1:1813".
	AcctListen string `yaml:"acct_listen"`

	// RequireMessageAuthenticator drops every Access-Request that carries no
	// Message-Authenticator (RFC 3579), the defence against forged responses
	// (Blast-RADIUS, CVE-2024-3596). A client entry may override it.
	// Default true.
	RequireMessageAuthenticator bool `yaml:"require_message_authenticator"`

	// InterimInterval is sent as Acct-Interim-Interval in every Access-Accept:
	// how often the access point reports a session's traffic. Write it as a
	// duration ("5m", "300s"); a bare number is refused by the YAML decoder.
	// At least 60s (RFC 2869 §5.16 advises against shorter), or 0 to leave
	// the attribute out and let the access point decide. Default 5m.
	InterimInterval time.Duration `yaml:"interim_interval"`

	// Clients are the access points and controllers allowed to talk to the
	// server. A packet from an address no entry covers is dropped silently.
	// Default: the demo client, 127.0.0.0/8 with secret "testing123".
	Clients []Client `yaml:"clients"`
}

// Client is one entry of the client table.
type Client struct {
	// Name identifies the client in logs and metrics. Default: the CIDR.
	Name string `yaml:"name"`

	// CIDR is the network the client's packets come from, "10.20.0.0/16",
	// or a single address, "10.20.0.7". When networks overlap, the longest
	// prefix wins. Required.
	CIDR string `yaml:"cidr"`

	// Secret is the RADIUS shared secret. Required; at least 16 characters
	// (RFC 2865 §3 advises it, and a short secret makes forging replies
	// cheap) unless the client's network is loopback only, as the demo's
	// "testing123" is.
	Secret string `yaml:"secret"`

	// Location is the location ID reported for sessions seen through this
	// client when the access point cannot be located more precisely (see
	// Locator). Optional.
	Location string `yaml:"location"`

	// Vendor names the access-point family or implementation, one of the
	// names roamgate/apfamily knows (aliases included: "chilli" and
	// "coovachilli" are "coova", "openwrt" is "hostapd"). It decides the
	// bandwidth attributes in Access-Accepts — coova and uspot:
	// ChilliSpot (kbit/s); wispr: WISPr (bit/s); mikrotik:
	// Mikrotik-Rate-Limit; cisco: Airespace bandwidth contracts; aruba:
	// Aruba-User-Role and meraki: Filter-Id (the network's role) — and the
	// dialect of Disconnect- and CoA-Requests (radius/dialect.go). Empty
	// or "generic": RFC attributes only.
	Vendor string `yaml:"vendor"`

	// CoAPort is the UDP port of the client's Dynamic Authorization server
	// (RFC 5176) for CoA and Disconnect-Requests. 0 means 3799.
	CoAPort int `yaml:"coa_port"`

	// RequireMessageAuthenticator overrides the global setting for this
	// client; leave it out (nil) to use the global one. A client that
	// cannot sign its requests (OpenWrt uspot with radcli before 1.5) gets
	// false here; its requests are then still dropped when they carry
	// Proxy-State unsigned (limit_proxy_state), and the server logs and
	// shows on the admin dashboard that the client runs without it.
	RequireMessageAuthenticator *bool `yaml:"require_message_authenticator"`

	// The portal's view of the access points in this network (issue 12
	// §2b). RADIUS itself does not read these fields; the gateway hands
	// them to the portal, which finds the client by the address a vendor
	// redirect names (CoovaChilli's and uspot's uamip).

	// UAMSecret is the uamsecret of the CoovaChilli or uspot gateways whose
	// UAM address (HS_UAMLISTEN, the redirect's uamip) lies in CIDR: the
	// portal verifies their redirects' md= with it and mixes it into the
	// CHAP/PAP logon. Empty means portal.coova.uam_secret. At most 128
	// printable ASCII characters (chilli keeps it as a C string).
	UAMSecret string `yaml:"uam_secret"`

	// RequireSignature says whether the portal refuses redirects from these
	// access points that are not signed with their key (CoovaChilli/uspot
	// md=). Leave it out (nil) for the default: required when a UAM secret
	// is known (here or in portal.coova.uam_secret). Setting it true
	// without any secret is an error.
	RequireSignature *bool `yaml:"require_signature"`

	// Dynamic Authorization (RFC 5176): where and how Disconnect- and
	// CoA-Requests reach this client's access points. Each defaults to the
	// vendor's dialect; set one only when an access point differs.

	// DASAddress is where Disconnect- and CoA-Requests go (port: coa_port):
	// an IP address or a host name, resolved at each send. Default: the
	// address the NAS's RADIUS packets come from. Set it when those
	// packets come from elsewhere — a RADIUS proxy that does not forward
	// CoA (deploy/freeradius-proxy.md), or Meraki, whose cloud takes
	// Disconnect-Requests only at the organisation's dashboard host name
	// ("n143.meraki.com"; required for vendor meraki).
	DASAddress string `yaml:"das_address"`

	// MACFormat is how Calling-Station-Id is written in Disconnect- and
	// CoA-Requests, for access points that compare it as a string (uspot's
	// mac_format): one of AA-BB-CC-DD-EE-FF, aa-bb-cc-dd-ee-ff,
	// AA:BB:CC:DD:EE:FF, aa:bb:cc:dd:ee:ff, AABBCCDDEEFF, aabbccddeeff.
	// Default: the dialect's (uspot AA:BB:CC:DD:EE:FF, else RFC 3580's
	// AA-BB-CC-DD-EE-FF).
	MACFormat string `yaml:"mac_format"`

	// DASAttributes replaces the dialect's list of attributes in
	// Disconnect- and CoA-Requests: any of user-name (the session ID),
	// calling-station-id, nas-identifier, acct-session-id,
	// framed-ip-address, event-timestamp, message-authenticator. Empty: the
	// dialect's.
	DASAttributes []string `yaml:"das_attributes"`
}

// Defaults of the demo site.
const (
	DefaultAuthListen      = "127.0.0.1:1812"
	DefaultAcctListen      = "127.0.0.1:1813"
	DefaultInterimInterval = 5 * time.Minute
	DefaultCoAPort         = 3799

	// MinInterimInterval is the shortest Acct-Interim-Interval we send.
	MinInterimInterval = 60 * time.Second

	// MinSecretLength is the shortest shared secret accepted for a client
	// that is not on loopback.
	MinSecretLength = 16
)

// DefaultConfig returns the demo configuration: loopback listeners and one
// client, "demo", covering 127.0.0.0/8 with secret "testing123".
func DefaultConfig() Config {
	return Config{
		AuthListen:                  DefaultAuthListen,
		AcctListen:                  DefaultAcctListen,
		RequireMessageAuthenticator: true,
		InterimInterval:             DefaultInterimInterval,
		Clients: []Client{{
			Name:   "demo",
			CIDR:   "127.0.0.0/8",
			Secret: "testing123",
		}},
	}
}

// Validate reports every problem in c, one per line, each naming its key
// relative to the configuration root (`radius.clients[2].cidr: …`).
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("radius.%s: "+format, append([]any{key}, args...)...))
	}

	for _, l := range []struct{ key, addr string }{{"auth_listen", c.AuthListen}, {"acct_listen", c.AcctListen}} {
		if l.addr == "" {
			bad(l.key, "missing")
		} else if err := checkListen(l.addr); err != nil {
			bad(l.key, "%q %v", l.addr, err)
		}
	}
	if c.AuthListen != "" && c.AuthListen == c.AcctListen && !hasPortZero(c.AuthListen) {
		bad("acct_listen", "%q is also auth_listen; accounting needs its own port", c.AcctListen)
	}

	switch d := c.InterimInterval; {
	case d == 0:
	case d < MinInterimInterval:
		bad("interim_interval", "%v is shorter than %v", d, MinInterimInterval)
	case d > math.MaxUint32*time.Second:
		bad("interim_interval", "%v is too long", d)
	}

	prefixes := make(map[netip.Prefix]int, len(c.Clients))
	names := make(map[string]int, len(c.Clients))
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if cl.Name != "" {
			if j, dup := names[cl.Name]; dup {
				bad(key+".name", "%q is also clients[%d].name", cl.Name, j)
			}
			names[cl.Name] = i
		}
		if cl.CIDR == "" {
			bad(key+".cidr", "missing")
		} else if p, err := parseClientPrefix(cl.CIDR); err != nil {
			bad(key+".cidr", "%v", err)
		} else if j, dup := prefixes[p]; dup {
			bad(key+".cidr", "%q is also clients[%d].cidr", cl.CIDR, j)
		} else {
			prefixes[p] = i
			if cl.Secret != "" && len(cl.Secret) < MinSecretLength && !loopbackOnly(p) {
				bad(key+".secret", "%d characters is too short for a client outside loopback; use at least %d (Blast-RADIUS, CVE-2024-3596)",
					len(cl.Secret), MinSecretLength)
			}
		}
		if cl.Secret == "" {
			bad(key+".secret", "missing")
		}
		kind, known := apfamily.Lookup(cl.Vendor)
		if !known {
			bad(key+".vendor", "%q is not one of %s", cl.Vendor, strings.Join(apfamily.All(), ", "))
		}
		if cl.CoAPort < 0 || cl.CoAPort > 65535 {
			bad(key+".coa_port", "%d is not a port", cl.CoAPort)
		}
		if err := checkUAMSecret(cl.UAMSecret); err != nil {
			bad(key+".uam_secret", "%v", err)
		}
		if cl.DASAddress != "" {
			if err := checkHost(cl.DASAddress); err != nil {
				bad(key+".das_address", "%q %v", cl.DASAddress, err)
			}
		} else if known && kind.Impl == apfamily.Meraki {
			bad(key+".das_address", "missing: Meraki takes Disconnect-Requests only at the organisation's dashboard host name (e.g. n143.meraki.com)")
		}
		if cl.MACFormat != "" {
			if _, ok := parseMACFormat(cl.MACFormat); !ok {
				bad(key+".mac_format", "%q is not one of %s", cl.MACFormat, strings.Join(MACFormats, ", "))
			}
		}
		if len(cl.DASAttributes) > 0 {
			if _, err := parseDASAttrs(cl.DASAttributes); err != nil {
				bad(key+".das_attributes", "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}

// checkListen accepts host:port with a numeric port; the host may be empty
// (all addresses) or a name.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("has no valid port number")
	}
	return nil
}

func hasPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// parseClientPrefix parses a client's network. A single address is a host
// prefix; a prefix with host bits set is refused, since it is probably a typo.
func parseClientPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not supported", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q: write IPv4 networks as IPv4", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %q?", s, m)
	}
	return p, nil
}

// loopbackOnly reports whether every address of p is a loopback address, so
// that packets from it cannot cross a network.
func loopbackOnly(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() >= 8 && netip.MustParsePrefix("127.0.0.0/8").Contains(p.Addr())
	}
	return p.Bits() == 128 && p.Addr() == netip.IPv6Loopback()
}

// MaxUAMSecret is the longest uam_secret accepted.
const MaxUAMSecret = 128

// checkUAMSecret accepts an empty secret or printable ASCII: chilli reads
// HS_UAMSECRET from a shell file into a C string, uspot from UCI.
func checkUAMSecret(s string) error {
	if len(s) > MaxUAMSecret {
		return fmt.Errorf("is %d characters, at most %d", len(s), MaxUAMSecret)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("has a character other than printable ASCII at position %d", i+1)
		}
	}
	return nil
}

// checkHost accepts an IP address or a DNS host name (no port).
func checkHost(s string) error {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return errors.New("has a zone")
		}
		return nil
	}
	if len(s) > 253 {
		return errors.New("is too long for a host name")
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("is not an IP address or host name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
				return errors.New("is not an IP address or host name")
			}
		}
	}
	return nil
}
