package portal

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/portal/vendor"
)

// logoffCookie remembers, from sign-in to sign-out, the logoff URL of the
// access point the device signed in at (CoovaChilli's and uspot's
// http://uamip:uamport/logoff): the status page has no arrival to read it
// from. It names an access point's address, never the device; it comes back
// from the browser, so it is checked against the access-point networks
// again before the sign-out redirects to it.
const logoffCookie = "roamgate_logoff"

// setLogoffCookie keeps the arrival's logoff URL until the session ends, or
// forgets an earlier one when this access point has none.
func (s *Server) setLogoffCookie(c *fiber.Ctx, a vendor.Arrival, expires time.Time) {
	u := vendor.LogoffURL(a)
	if u == "" && c.Cookies(logoffCookie) == "" {
		return
	}
	if u == "" {
		expires = time.Unix(0, 0)
	}
	c.Cookie(&fiber.Cookie{
		Name: logoffCookie, Value: u, Path: "/status", Expires: expires,
		Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// logoffURL is the remembered logoff URL if it still points at an access
// point. forget clears the cookie (the sign-out uses it up).
func (s *Server) logoffURL(c *fiber.Ctx, forget bool) (string, bool) {
	raw := strings.Clone(c.Cookies(logoffCookie))
	if raw == "" {
		return "", false
	}
	if forget {
		c.Cookie(&fiber.Cookie{
			Name: logoffCookie, Path: "/status", Expires: time.Unix(0, 0),
			Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		})
	}
	return s.vendors.CheckLogoffURL(raw)
}
