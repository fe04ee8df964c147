// Package apfamily is the one list of access-point families roamgate knows,
// and of the other names towns write for them in radius.clients[].vendor
// and portal.vendor. A family decides the portal's adapter and the RADIUS
// bandwidth attributes; within a family, an implementation decides how
// Disconnect- and CoA-Requests must look (CoovaChilli and OpenWrt uspot share
// the UAM login but not their Dynamic Authorization Servers). The package
// knows names only: no packets, no pages.
package apfamily

import (
	"slices"
	"strings"
)

// Families, as radius.clients[].vendor and portal.vendor spell them.
const (
	Generic  = "generic"  // the portal's own parameters; RFC attributes only
	Coova    = "coova"    // CoovaChilli / ChilliSpot UAM, and OpenWrt uspot
	Cisco    = "cisco"    // Cisco WLC (AireOS, Catalyst 9800) web authentication
	Meraki   = "meraki"   // Cisco Meraki MR sign-on splash
	Aruba    = "aruba"    // Aruba Instant / ArubaOS captive portal
	MikroTik = "mikrotik" // MikroTik RouterOS hotspot
	OpenNDS  = "opennds"  // openNDS FAS
	UniFi    = "unifi"    // UniFi controller external portal
	Omada    = "omada"    // TP-Link Omada External Portal Server (or RADIUS MAC authentication)
	MACAuth  = "mac-auth" // any access point doing RADIUS MAC authentication
)

// Implementations that share a family's portal adapter (and bandwidth
// attributes) but speak Dynamic Authorization differently.
const (
	// USpot is OpenWrt's uspot: CoovaChilli's UAM protocol, its own DAS.
	USpot = "uspot"
	// Hostapd is hostapd (and so OpenWrt's access points) doing MAC
	// authentication: Disconnect without CoA.
	Hostapd = "hostapd"
	// WISPr is an access point of no known family that takes the WISPr
	// bandwidth attributes (bit/s).
	WISPr = "wispr"
)

// families lists every family, in the order Names reports them.
var families = []string{Generic, Coova, Cisco, Meraki, Aruba, MikroTik, OpenNDS, UniFi, Omada, MACAuth}

// implementations maps each implementation to its family.
var implementations = map[string]string{
	USpot:   Coova,
	Hostapd: MACAuth,
	WISPr:   Generic,
}

// aliases maps other names to a family or an implementation.
var aliases = map[string]string{
	"chilli": Coova, "chillispot": Coova, "coovachilli": Coova, "coova-chilli": Coova,
	"openwrt": Hostapd, "tp-link": Omada,
	"ubiquiti": UniFi, "cisco-wlc": Cisco, "aruba-instant": Aruba, "aruba-instant-on": Aruba,
}

// Kind is what a configured name stands for.
type Kind struct {
	// Family is the family: the portal adapter and the bandwidth
	// attributes.
	Family string
	// Impl is the implementation within the family: the Disconnect/CoA
	// dialect. It equals Family unless the name names an implementation
	// (USpot, Hostapd, WISPr) or an alias of one.
	Impl string
}

// Lookup resolves a family name, an implementation or an alias,
// case-insensitively. The empty name is the generic family. ok is false for
// a name this list does not know.
func Lookup(name string) (k Kind, ok bool) {
	n := strings.ToLower(name)
	if n == "" {
		return Kind{Generic, Generic}, true
	}
	if a, isAlias := aliases[n]; isAlias {
		n = a
	}
	if f, isImpl := implementations[n]; isImpl {
		return Kind{Family: f, Impl: n}, true
	}
	if slices.Contains(families, n) {
		return Kind{Family: n, Impl: n}, true
	}
	return Kind{}, false
}

// Family is the family of name, or Generic for a name Lookup does not know.
func Family(name string) string {
	k, ok := Lookup(name)
	if !ok {
		return Generic
	}
	return k.Family
}

// Names lists every family name.
func Names() []string { return slices.Clone(families) }

// All lists every name Lookup accepts (families, implementations, aliases),
// sorted: for error messages and documentation.
func All() []string {
	out := slices.Clone(families)
	for n := range implementations {
		out = append(out, n)
	}
	for n := range aliases {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
