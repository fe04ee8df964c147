package gateway

import (
	"net/netip"
	"path"
	"slices"
	"strings"

	"roamgate/radius"
	"roamgate/session"
)

// The RADIUS server gives the locator the values of a request uncopied.
var _ radius.AttributeLocator = (*locator)(nil)

// locator maps what an access point tells about itself (NAS-Identifier, its
// MAC, the SSID, its address) to a location and network of the site. It is
// built once from the config and read concurrently without locks.
//
// It answers what a scan of locations[] in config order would (the first
// location any of whose patterns matches), but looks most patterns up
// instead of trying them: it runs on every Access-Request, and a region
// configures thousands of locations, each scanned with path.Match. Each
// kind of pattern is indexed by the first location that has it, and the
// answer is the least of the lookups. Only NAS-Identifier patterns with
// wildcards other than one final '*' are still tried one by one, and only
// those of locations before the best found so far.
type locator struct {
	locations []located

	// NAS-Identifier patterns: literals, "prefix*" by the length of the
	// prefix (the lengths ascending), and the rest for path.Match in
	// config order.
	nasIDExact    map[string]int
	nasIDPrefixes []prefixIndex
	nasIDGlobs    []glob

	apMAC map[session.MAC]int
	// NAS-IP networks, by the family and length of the prefix.
	nasIP4, nasIP6 []int // the lengths in use, ascending
	nasIP          map[netip.Prefix]int

	bySSID    map[string]string
	defaultNW string
}

type located struct{ id, network string }

// prefixIndex finds the locations of NAS-Identifier patterns "prefix*"
// whose prefix is n bytes long.
type prefixIndex struct {
	n     int
	first map[string]int
}

type glob struct {
	loc     int
	pattern string
}

func newLocator(c Config) *locator {
	l := &locator{
		nasIDExact: map[string]int{},
		apMAC:      map[session.MAC]int{},
		nasIP:      map[netip.Prefix]int{},
		bySSID:     map[string]string{},
	}
	for _, n := range c.Networks {
		if _, dup := l.bySSID[n.SSID]; !dup {
			l.bySSID[n.SSID] = n.ID
		}
	}
	if len(c.Networks) > 0 {
		l.defaultNW = c.Networks[0].ID
	}
	for i, loc := range c.Locations {
		l.locations = append(l.locations, located{id: loc.ID, network: loc.Network})
		for _, p := range loc.Match.NASID {
			switch {
			case !hasMeta(p):
				addFirst(l.nasIDExact, p, i)
			case strings.HasSuffix(p, "*") && !hasMeta(p[:len(p)-1]):
				l.addNASIDPrefix(p[:len(p)-1], i)
			default:
				l.nasIDGlobs = append(l.nasIDGlobs, glob{loc: i, pattern: p})
			}
		}
		for _, s := range loc.Match.APMAC {
			if m, err := session.ParseMAC(s); err == nil {
				addFirst(l.apMAC, m, i)
			}
		}
		for _, s := range loc.Match.NASIP {
			if p, err := netip.ParsePrefix(s); err == nil {
				p = p.Masked()
				addFirst(l.nasIP, p, i)
				if p.Addr().Is4() {
					l.nasIP4 = insertSorted(l.nasIP4, p.Bits())
				} else {
					l.nasIP6 = insertSorted(l.nasIP6, p.Bits())
				}
			}
		}
	}
	return l
}

// hasMeta reports whether a NAS-Identifier pattern has any of path.Match's
// special characters; without them it matches only itself.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func addFirst[K comparable](m map[K]int, k K, loc int) {
	if _, dup := m[k]; !dup {
		m[k] = loc
	}
}

func insertSorted(s []int, v int) []int {
	if i, found := slices.BinarySearch(s, v); !found {
		s = slices.Insert(s, i, v)
	}
	return s
}

func (l *locator) addNASIDPrefix(prefix string, loc int) {
	i, found := slices.BinarySearchFunc(l.nasIDPrefixes, len(prefix), func(x prefixIndex, n int) int { return x.n - n })
	if !found {
		l.nasIDPrefixes = slices.Insert(l.nasIDPrefixes, i, prefixIndex{n: len(prefix), first: map[string]int{}})
	}
	addFirst(l.nasIDPrefixes[i].first, prefix, loc)
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
	return answer(l, first(l, nasID, mac, haveMAC, nasIP), ssid)
}

// LocateAttributes is Locate for the values as the RADIUS server reads them
// from a request, the AP MAC parsed (radius.AttributeLocator): it spares the
// server copying them into strings on every request.
func (l *locator) LocateAttributes(nasID []byte, apMAC session.MAC, haveAP bool, ssid []byte, nasIP netip.Addr) (location, network string) {
	return answer(l, first(l, nasID, apMAC, haveAP, nasIP), ssid)
}

// answer names location i (none if i is len(l.locations)) and the network.
func answer[S string | []byte](l *locator, i int, ssid S) (location, network string) {
	if i < len(l.locations) {
		location, network = l.locations[i].id, l.locations[i].network
	}
	if n, ok := l.bySSID[string(ssid)]; ok {
		network = n
	}
	if network == "" {
		network = l.defaultNW
	}
	return location, network
}

// first is the index of the first location any of whose patterns matches,
// or len(l.locations). It is generic so that neither caller converts the
// NAS-Identifier: the []byte one's map lookups would not copy it, but a
// conversion passed on would.
func first[S string | []byte](l *locator, nasID S, mac session.MAC, haveMAC bool, ip netip.Addr) int {
	best := len(l.locations)
	if len(nasID) > 0 {
		if i, ok := l.nasIDExact[string(nasID)]; ok {
			best = i
		}
		for _, p := range l.nasIDPrefixes {
			if p.n > len(nasID) {
				break
			}
			// path.Match's '*' matches no '/'.
			if i, ok := p.first[string(nasID[:p.n])]; ok && i < best && !hasSlash(nasID[p.n:]) {
				best = i
			}
		}
	}
	if haveMAC {
		if i, ok := l.apMAC[mac]; ok && i < best {
			best = i
		}
	}
	// Prefix.Contains matches no address with a zone; ip.Prefix would drop
	// it.
	if ip = ip.Unmap(); ip.IsValid() && ip.Zone() == "" {
		bits := l.nasIP6
		if ip.Is4() {
			bits = l.nasIP4
		}
		for _, n := range bits {
			p, _ := ip.Prefix(n)
			if i, ok := l.nasIP[p]; ok && i < best {
				best = i
			}
		}
	}
	if len(nasID) > 0 {
		for _, g := range l.nasIDGlobs {
			if g.loc >= best {
				break
			}
			if ok, _ := path.Match(g.pattern, string(nasID)); ok {
				best = g.loc
				break
			}
		}
	}
	return best
}

func hasSlash[S string | []byte](s S) bool {
	for i := range len(s) {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// locationNames maps location IDs to the names shown to citizens.
func locationNames(c Config) map[string]string {
	names := make(map[string]string, len(c.Locations))
	for _, l := range c.Locations {
		names[l.ID] = l.Name
	}
	return names
}

// portalLocator places a sign-in from the access point's redirect
// parameters only: the portal knows the client's address, not the NAS's,
// and client subnets are not what locations[].match.nas_ip describes.
type portalLocator struct{ l *locator }

func (p portalLocator) Locate(nasID, apMAC, ssid string, _ netip.Addr) (location, network string) {
	return p.l.Locate(nasID, apMAC, ssid, netip.Addr{})
}
