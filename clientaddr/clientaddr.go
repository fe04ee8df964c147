// Package clientaddr says who the client of an HTTP listener is when
// reverse proxies stand in front of it: the configured trusted proxies, and
// the client's address in the X-Forwarded-For header they add. portal and
// admin share it, so that both believe exactly the same headers.
//
// It knows nothing of HTTP servers: it takes the connection's peer address
// and the header's value. It does not decide what a client may do; package
// ratelimit does that with the address found here.
package clientaddr

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxForwardedFor bounds the X-Forwarded-For header read; a longer one is
// ignored, as if absent.
const MaxForwardedFor = 1024

// Proxies are the trusted reverse proxies.
type Proxies []netip.Prefix

// ParseProxies parses the config list key (portal.trusted_proxies,
// admin.trusted_proxies): networks, or bare addresses that are their own
// /32 or /128. IPv4-mapped IPv6 entries are their IPv4 network, since
// client addresses are unmapped. Errors name the key and index.
func ParseProxies(key string, list []string) (Proxies, error) {
	out := make(Proxies, 0, len(list))
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%s[%d]: %q is not a network or address", key, i, s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Trusted reports whether a is a trusted proxy.
func (ps Proxies) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address of the client of a request that came from peer
// with the X-Forwarded-For header xff: peer itself unless it is a trusted
// proxy; otherwise the rightmost address in xff that no trusted proxy added
// (the left part of the header is whatever the client claimed). A header
// that is empty, too long or not an address where it is read leaves the
// last trusted hop as the client.
func (ps Proxies) Client(peer netip.Addr, xff string) netip.Addr {
	addr := peer.Unmap()
	if !ps.Trusted(addr) {
		return addr
	}
	if xff == "" || len(xff) > MaxForwardedFor {
		return addr
	}
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !ps.Trusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

// Strings are the proxies as text (for fiber's Config.TrustedProxies).
func (ps Proxies) Strings() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
