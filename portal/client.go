package portal

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// remoteAddr is the address of the TCP peer.
func remoteAddr(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

// clientIP is the address of the device: the TCP peer, or behind trusted
// proxies the address they name in X-Forwarded-For (package clientaddr,
// which the admin listener shares).
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	return s.proxies.Client(remoteAddr(c), c.Get(fiber.HeaderXForwardedFor))
}

// secure reports whether the request reached us over HTTPS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func (s *Server) secure(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	if !s.proxies.Trusted(remoteAddr(c)) {
		return false
	}
	proto, _, _ := strings.Cut(c.Get(fiber.HeaderXForwardedProto), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
