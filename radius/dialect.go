package radius

import (
	"fmt"
	"math"
	"strings"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/mikrotik"

	"roamgate/apfamily"
	"roamgate/radius/vendors/airespace"
	"roamgate/radius/vendors/aruba"
	"roamgate/radius/vendors/chillispot"
	"roamgate/radius/vendors/wispr"
	"roamgate/session"
)

// A dialect is how one access-point implementation wants to be spoken to
// beyond the RFCs: which attributes identify a device in a Disconnect- or
// CoA-Request (RFC 5176 §3), how it writes MAC addresses, whether it takes
// CoA at all, and what it needs in an Access-Accept. Every rule below comes
// from the implementation's source or documentation, cited; radius/das_test.go
// has a stand-in for each that applies the same rules.
type dialect struct {
	// impl is the apfamily implementation the dialect is for.
	impl string
	// attrs are what a Disconnect- or CoA-Request carries.
	attrs dasAttrs
	// mac is how Calling-Station-Id is written.
	mac macFormat
	// coa: the DAS takes CoA-Requests that re-authorise a device.
	coa bool
	// acceptUserName: every Access-Accept names the session in User-Name,
	// so that the NAS knows the device by it (see coova below).
	acceptUserName bool
}

// dasAttrs is a set of the attributes a Disconnect- or CoA-Request may
// carry; DASAttributeNames spells them in the configuration.
type dasAttrs uint16

const (
	// dasUserName is User-Name = the session ID, which every UAM login
	// uses as User-Name.
	dasUserName dasAttrs = 1 << iota
	// dasCallingStationID is the device's MAC in the dialect's format.
	dasCallingStationID
	// dasNASIdentifier is the NAS-Identifier the NAS sent, if any.
	dasNASIdentifier
	// dasAcctSessionID is the NAS's Acct-Session-Id from accounting, if
	// any. It goes stale when the device reconnects, so only NASes that
	// need it get it.
	dasAcctSessionID
	// dasFramedIPAddress is the device's IPv4 address, if known.
	dasFramedIPAddress
	// dasEventTimestamp is Event-Timestamp (RFC 5176 §3.3, replay).
	dasEventTimestamp
	// dasMessageAuthenticator is Message-Authenticator (RFC 5176 §3.3).
	dasMessageAuthenticator
	numDASAttrs = iota
)

// DASAttributeNames are the names radius.clients[].das_attributes accepts,
// in the order the attributes are written.
var DASAttributeNames = [numDASAttrs]string{
	"user-name", "calling-station-id", "nas-identifier", "acct-session-id",
	"framed-ip-address", "event-timestamp", "message-authenticator",
}

// parseDASAttrs reads a das_attributes list.
func parseDASAttrs(names []string) (dasAttrs, error) {
	var set dasAttrs
	for _, n := range names {
		i := indexOf(DASAttributeNames[:], strings.ToLower(n))
		if i < 0 {
			return 0, fmt.Errorf("%q is not one of %s", n, strings.Join(DASAttributeNames[:], ", "))
		}
		set |= 1 << i
	}
	return set, nil
}

func (a dasAttrs) String() string {
	var names []string
	for i, n := range DASAttributeNames {
		if a&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// macFormat is how a NAS writes MAC addresses: separator ('-', ':' or none)
// and case.
type macFormat struct {
	sep   byte
	upper bool
}

// MACFormats are the values radius.clients[].mac_format accepts (uspot's
// list, files/usr/share/uspot/uspotlib.uc in openwrt/uspot).
var MACFormats = []string{
	"AA-BB-CC-DD-EE-FF", "aa-bb-cc-dd-ee-ff", "AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff", "AABBCCDDEEFF", "aabbccddeeff",
}

func parseMACFormat(s string) (macFormat, bool) {
	if indexOf(MACFormats, s) < 0 {
		return macFormat{}, false
	}
	f := macFormat{upper: s[0] == 'A'}
	if len(s) == 17 {
		f.sep = s[2]
	}
	return f, true
}

// rfc3580MAC is Calling-Station-Id as RFC 3580 §3.21 recommends.
var rfc3580MAC = macFormat{sep: '-', upper: true}

func (f macFormat) format(m session.MAC) string {
	hexdigits := "0123456789abcdef"
	if f.upper {
		hexdigits = "0123456789ABCDEF"
	}
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 && f.sep != 0 {
			b = append(b, f.sep)
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return string(b)
}

const signed = dasEventTimestamp | dasMessageAuthenticator

// rfc5176 is the dialect of every implementation not listed in dialects:
// what roamgate always sent, RFC 5176 §3 identification plus its §3.3
// replay protection. Which of these attributes Cisco, Aruba, MikroTik,
// UniFi and Omada require is not confirmed from their documentation.
var rfc5176 = dialect{
	attrs: dasNASIdentifier | dasAcctSessionID | dasCallingStationID | dasFramedIPAddress | signed,
	mac:   rfc3580MAC,
	coa:   true,
}

// dialects are the implementations whose Dynamic Authorization Server
// rejects the RFC 5176 set above, with the rules each one applies.
var dialects = map[string]dialect{
	// CoovaChilli (coova/coova-chilli e0c7d7af9506, src/chilli.c
	// cb_radius_coa_ind): a Disconnect or CoA without User-Name is dropped
	// without any answer (chilli.c:4879-4882), and the session is found by
	// comparing User-Name byte for byte with the name the device logged in
	// with, Acct-Session-Id narrowing it if present (chilli.c:4897-4902). After
	// MAC authentication that name is the MAC as chilli writes it plus
	// HS_MACSUFFIX (chilli.c:1565-1583) — unless the Access-Accept carries
	// User-Name, which replaces it (chilli.c:4681-4690). So every
	// Access-Accept names the session, and the Disconnect names it too; no
	// Acct-Session-Id, which would only turn a stale value into a NAK.
	// Message-Authenticator and Event-Timestamp are ignored by chilli and
	// kept for replay protection. A CoA-Request re-authorises nothing
	// (roamgate's coova logins are UAM), so it is not used.
	apfamily.Coova: {
		attrs:          dasUserName | dasNASIdentifier | signed,
		mac:            rfc3580MAC,
		acceptUserName: true,
	},
	// OpenWrt uspot (openwrt/uspot, mirror f00b4r0/uspot 094f0df,
	// src/radius-das.c): any attribute outside its list NAKs the request
	// (radius-das.c:262-265) — Message-Authenticator, Event-Timestamp and,
	// in a Disconnect, Framed-IP-Address are outside it (radius-das.c:396-431,
	// disconnect_attrid_not_supported), and every
	// attribute left must equal, as a string, the one uspot sent in the
	// device's Access-Request (uspot.uc:627-652, das_match_client), where
	// Calling-Station-Id is written in uspot's mac_format (uspot.uc:760,
	// uspotlib.uc:9-35; default: upper case with colons, as spotfilter
	// reports it, uspot.uc:711). User-Name is the session ID after a UAM
	// login but the MAC after MAC authentication, so it is not sent.
	apfamily.USpot: {
		attrs: dasCallingStationID | dasNASIdentifier,
		mac:   macFormat{sep: ':', upper: true},
	},
	// hostapd (w1.fi hostap; lines as in its mirror greearb/hostap-ct
	// 76d4a91): a Disconnect with an attribute outside its list —
	// Framed-IP-Address among them — is NAKed with Error-Cause 401
	// (src/radius/radius_das.c:41-73); User-Name is matched against the
	// station's 802.1X identity only, so a MAC-authenticated station never
	// matches it (src/ap/hostapd.c:1236-1245); Acct-Session-Id must be
	// hostapd's own 16 hex digits (hostapd.c:1139); NAS-Identifier must
	// equal nas_identifier, else 403 (hostapd.c:1071-1082). CoA exists only
	// with CONFIG_HS20, for Terms-and-Conditions filtering
	// (hostapd.c:1369, 1497; radius_das.c:232 NAKs it otherwise), so a
	// device cannot be re-authorised: a rejected station is not
	// associated, and gets in on its next association attempt.
	apfamily.Hostapd: {
		attrs: dasCallingStationID | dasNASIdentifier | signed,
		mac:   rfc3580MAC,
	},
	// Cisco Meraki (documentation.meraki.com, "CoA Disconnect for Splash
	// Sign-on"): the Meraki cloud, not the access point, takes
	// Disconnect-Requests — at the organisation's dashboard FQDN on UDP
	// 3799 (so radius.clients[].das_address is required) — and "the only
	// dynamic authorization supported are disconnect messages". Which
	// attributes it matches is not documented there: the device's MAC and
	// the User-Name of its sign-on (the session ID) are sent.
	apfamily.Meraki: {
		attrs: dasUserName | dasCallingStationID | signed,
		mac:   rfc3580MAC,
	},
}

// dialectFor is the dialect of an apfamily implementation.
func dialectFor(impl string) dialect {
	d, ok := dialects[impl]
	if !ok {
		d = rfc5176
	}
	d.impl = impl
	return d
}

// addBandwidth adds the network's rate limits in the family's attributes.
// Families without rate-limit attributes get none (the access point's own
// setting applies).
func addBandwidth(p *layeh.Packet, k apfamily.Kind, bw Bandwidth) {
	if bw == (Bandwidth{}) {
		return
	}
	if k.Impl == apfamily.WISPr {
		// WISPr: bit/s.
		if bw.UpKbps > 0 {
			wispr.WISPrBandwidthMaxUp_Add(p, wispr.WISPrBandwidthMaxUp(bitsPerSecond(bw.UpKbps)))
		}
		if bw.DownKbps > 0 {
			wispr.WISPrBandwidthMaxDown_Add(p, wispr.WISPrBandwidthMaxDown(bitsPerSecond(bw.DownKbps)))
		}
		return
	}
	switch k.Family {
	case apfamily.Coova:
		// CoovaChilli and uspot: kbit/s (uspot reads these too,
		// uspot.uc:312-313, client_ratelimit).
		if bw.UpKbps > 0 {
			chillispot.ChilliSpotBandwidthMaxUp_Add(p, chillispot.ChilliSpotBandwidthMaxUp(bw.UpKbps))
		}
		if bw.DownKbps > 0 {
			chillispot.ChilliSpotBandwidthMaxDown_Add(p, chillispot.ChilliSpotBandwidthMaxDown(bw.DownKbps))
		}
	case apfamily.MikroTik:
		// rx-rate/tx-rate as the router sees them: it receives the
		// device's upload. 0 is "no limit" to RouterOS too.
		if bw.UpKbps > 0 || bw.DownKbps > 0 {
			mikrotik.MikrotikRateLimit_AddString(p, fmt.Sprintf("%dk/%dk", bw.UpKbps, bw.DownKbps))
		}
	case apfamily.Cisco:
		// AireOS per-user bandwidth contracts, kbit/s, applied with
		// "Allow AAA Override".
		if bw.DownKbps > 0 {
			airespace.AirespaceDataBandwidthAverageContract_Add(p, airespace.AirespaceDataBandwidthAverageContract(bw.DownKbps))
		}
		if bw.UpKbps > 0 {
			airespace.AirespaceDataBandwidthAverageContractUpstream_Add(p, airespace.AirespaceDataBandwidthAverageContractUpstream(bw.UpKbps))
		}
	case apfamily.Aruba:
		// Aruba enforces bandwidth contracts per user role.
		if bw.Role != "" {
			aruba.ArubaUserRole_AddString(p, bw.Role)
		}
	case apfamily.Meraki:
		// Meraki applies the group policy named by Filter-Id (among
		// others), and group policies carry bandwidth limits.
		if bw.Role != "" {
			rfc2865.FilterID_AddString(p, bw.Role)
		}
	}
}

func bitsPerSecond(kbps uint32) uint32 {
	return uint32(min(uint64(kbps)*1000, math.MaxUint32))
}
