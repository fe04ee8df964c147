package portal

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// maxForwardedFor bounds the X-Forwarded-For header the portal looks at.
const maxForwardedFor = 1024

// remoteAddr is the address of the TCP peer.
func remoteAddr(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address of the device. From a trusted proxy, it is the
// rightmost X-Forwarded-For address that is not itself a trusted proxy (the
// left part of the header is whatever the client claimed); otherwise the TCP
// peer.
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	addr := remoteAddr(c)
	if !s.trustedProxy(addr) {
		return addr
	}
	xff := c.Get(fiber.HeaderXForwardedFor)
	if xff == "" || len(xff) > maxForwardedFor {
		return addr
	}
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trustedProxy(a) {
			return a
		}
		addr = a
	}
	return addr
}

// secure reports whether the request reached us over HTTPS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func (s *Server) secure(c *fiber.Ctx) bool {
	if c.Context().IsTLS() {
		return true
	}
	if !s.trustedProxy(remoteAddr(c)) {
		return false
	}
	proto, _, _ := strings.Cut(c.Get(fiber.HeaderXForwardedProto), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
