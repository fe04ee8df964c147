package gateway

import (
	"net/netip"
	"path"

	"roamgate/session"
)

// locator maps what an access point tells about itself (NAS-Identifier, its
// MAC, the SSID, its address) to a location and network of the site. It is
// built once from the config and read concurrently without locks.
type locator struct {
	locations []compiledLocation
	bySSID    map[string]string
	defaultNW string
}

type compiledLocation struct {
	id, network string
	nasID       []string
	apMAC       map[session.MAC]bool
	nasIP       []netip.Prefix
}

func newLocator(c Config) *locator {
	l := &locator{bySSID: map[string]string{}}
	for _, n := range c.Networks {
		if _, dup := l.bySSID[n.SSID]; !dup {
			l.bySSID[n.SSID] = n.ID
		}
	}
	if len(c.Networks) > 0 {
		l.defaultNW = c.Networks[0].ID
	}
	for _, loc := range c.Locations {
		cl := compiledLocation{id: loc.ID, network: loc.Network, nasID: loc.Match.NASID, apMAC: map[session.MAC]bool{}}
		for _, s := range loc.Match.APMAC {
			if m, err := session.ParseMAC(s); err == nil {
				cl.apMAC[m] = true
			}
		}
		for _, s := range loc.Match.NASIP {
			if p, err := netip.ParsePrefix(s); err == nil {
				cl.nasIP = append(cl.nasIP, p.Masked())
			}
		}
		l.locations = append(l.locations, cl)
	}
	return l
}

// Locate returns the first location any of whose patterns matches, and the
// network of the SSID (else the location's network, else the first network).
func (l *locator) Locate(nasID, apMAC, ssid string, nasIP netip.Addr) (location, network string) {
	var mac session.MAC
	haveMAC := false
	if apMAC != "" {
		if m, err := session.ParseMAC(apMAC); err == nil {
			mac, haveMAC = m, true
		}
	}
	nasIP = nasIP.Unmap()
	for _, c := range l.locations {
		if c.matches(nasID, mac, haveMAC, nasIP) {
			location, network = c.id, c.network
			break
		}
	}
	if n, ok := l.bySSID[ssid]; ok {
		network = n
	}
	if network == "" {
		network = l.defaultNW
	}
	return location, network
}

// locationNames maps location IDs to the names shown to citizens.
func locationNames(c Config) map[string]string {
	names := make(map[string]string, len(c.Locations))
	for _, l := range c.Locations {
		names[l.ID] = l.Name
	}
	return names
}

func (c compiledLocation) matches(nasID string, mac session.MAC, haveMAC bool, ip netip.Addr) bool {
	if nasID != "" {
		for _, p := range c.nasID {
			if ok, _ := path.Match(p, nasID); ok {
				return true
			}
		}
	}
	if haveMAC && c.apMAC[mac] {
		return true
	}
	if ip.IsValid() {
		for _, p := range c.nasIP {
			if p.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// portalLocator places a sign-in from the access point's redirect
// parameters only: the portal knows the client's address, not the NAS's,
// and client subnets are not what locations[].match.nas_ip describes.
type portalLocator struct{ l *locator }

func (p portalLocator) Locate(nasID, apMAC, ssid string, _ netip.Addr) (location, network string) {
	return p.l.Locate(nasID, apMAC, ssid, netip.Addr{})
}
