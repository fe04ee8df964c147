package portal

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"roamgate/portal/vendor"
	"roamgate/probe"
)

// handleProbes answers OS probes and requests for foreign hosts (captive DNS
// sends every name to the portal). A client with a live session gets what
// its OS expects, or for other hosts a short "you are online" page; one
// without is redirected to the splash page, its arrival parameters kept.
func (s *Server) handleProbes(c *fiber.Ctx) error {
	host := strings.ToLower(c.Hostname())
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	path := c.Path()
	pr, isProbe := probe.Match(host, path)
	if !isProbe && s.ownHost(host) {
		return c.Next()
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		if isProbe {
			return fiber.ErrMethodNotAllowed
		}
		return c.Next() // a form to our own paths on an odd host name: let CSRF judge
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if _, online := s.sessionOf(c); online {
		if isProbe {
			s.stats.probesOnline.Add(1)
			if pr.ContentType != "" {
				c.Set(fiber.HeaderContentType, pr.ContentType)
			}
			if pr.NetworkManager {
				c.Set("X-NetworkManager-Status", "online")
			}
			return c.Status(pr.Status).SendString(pr.Body)
		}
		// Stale DNS: a device already online asked us for another site.
		lang, _ := s.language(c, "")
		p := s.newPage(c, lang)
		p.Online = true
		p.Langs = nil
		return s.render(c, fiber.StatusOK, "splash", p)
	}
	if isProbe {
		s.stats.probesCaptive.Add(1)
	}
	_, a := s.arrive(c, queryOf(c))
	if a.ContinueURL == "" && !isProbe {
		orig := "http://" + host + path
		if q := c.Request().URI().QueryString(); len(q) > 0 {
			orig += "?" + string(q)
		}
		if u, ok := vendor.ContinueURL(orig); ok && u != "" {
			if a.Params == nil {
				a.Params = url.Values{}
			}
			a.Params.Set("url", u)
		}
	}
	return c.Redirect(s.portal.splash(c)+arrivalQuery(a, ""), fiber.StatusFound)
}

// ownHost reports whether a Host names the portal itself: its public name,
// an address literal, localhost or a single-label name. Without a public URL
// every host is the portal's (only probes are recognised).
func (s *Server) ownHost(host string) bool {
	if s.portal == nil {
		return true // no public name to tell foreign hosts by
	}
	if host == "" || host == "localhost" || !strings.Contains(host, ".") {
		return true
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return true
	}
	return s.portal != nil && s.portal.host == host
}

// portalURL is the portal's public URL.
type portalURL struct {
	base string // scheme://host[:port], no trailing slash
	host string // lower-case host name without port
}

func parsePortalURL(raw string) (*portalURL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errPortalURL(raw)
	}
	return &portalURL{base: u.Scheme + "://" + u.Host, host: strings.ToLower(u.Hostname())}, nil
}

type errPortalURL string

func (e errPortalURL) Error() string {
	return "portal: Deps.PortalURL " + string(e) + " is not an absolute http(s) URL"
}

// splash is the URL of the splash page for a redirect: absolute with a
// public URL, else on the host the request named.
func (p *portalURL) splash(c *fiber.Ctx) string {
	if p == nil {
		return "/"
	}
	return p.base + "/"
}

// userPortal is the RFC 8908 user-portal-url.
func (p *portalURL) userPortal(c *fiber.Ctx) string {
	if p != nil {
		return p.base + "/"
	}
	return c.Protocol() + "://" + c.Hostname() + "/"
}
