package portal

import (
	"net/netip"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"roamgate/portal/vendor"
)

// nasHint is the access point an arrival names, for re-authorisation.
func (s *Server) nasHint(c *fiber.Ctx, a vendor.Arrival) NASHint {
	h := NASHint{ID: a.NASID, AP: a.APMAC, HasAP: a.HasAP}
	if ip := s.clientIP(c); s.onAPNetwork(ip) {
		h.Addr = ip
	} else if u, err := url.Parse(a.LoginURL); err == nil && a.LoginURL != "" {
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && s.onAPNetwork(ip.Unmap()) {
			h.Addr = ip.Unmap()
		}
	}
	return h
}

// onAPNetwork reports whether a is in an access-point network.
func (s *Server) onAPNetwork(a netip.Addr) bool {
	for _, p := range s.vendors.APNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
