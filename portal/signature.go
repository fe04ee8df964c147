package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/portal/vendor"
)

// unverified reports whether an arrival must be refused: its access point
// requires a signature (radius.clients[].require_signature,
// portal.opennds.gateways[].require_signature, by default wherever a key is
// configured) and the redirect has no valid one. Such an arrival names a
// MAC, an address and a continue URL nobody vouches for.
func unverified(a vendor.Arrival) bool {
	return a.SignatureRequired && a.Signature != vendor.SignatureValid
}

// refuseArrival answers an arrival whose signature is missing or wrong:
// 403 with a page that tells the citizen to let the access point send them
// again (a fresh redirect is signed afresh), counted by reason.
func (s *Server) refuseArrival(c *fiber.Ctx, lang string, a vendor.Arrival) error {
	if a.Signature == vendor.SignatureInvalid {
		s.stats.signatureInvalid.Add(1)
	} else {
		s.stats.signatureMissing.Add(1)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.renderErrorKey(c, fiber.StatusForbidden, lang, "error.signature", "")
}

// continueCookie remembers, for ten minutes, the continue URL the portal
// itself handed to an access point with this browser's sign-in (a hash of
// it, not the URL). When the access point sends the browser back
// (CoovaChilli's res=success), the portal follows that URL only if the
// access point signed the redirect or it is the one remembered: otherwise
// a link /?res=success&userurl=… would send a signed-in citizen anywhere.
const (
	continueCookie = "roamgate_continue"
	continueMaxAge = 10 * time.Minute
)

func (s *Server) continueHash(u string) string {
	h := hmac.New(sha256.New, s.limitKey)
	h.Write([]byte("continue\x00"))
	h.Write([]byte(u))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// rememberContinue sets continueCookie for the continue URL of a step that
// leaves the portal.
func (s *Server) rememberContinue(c *fiber.Ctx, u string) {
	if u == "" {
		return
	}
	c.Cookie(&fiber.Cookie{
		Name: continueCookie, Value: s.continueHash(u), Path: "/", MaxAge: int(continueMaxAge / time.Second),
		Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// mayContinue reports whether the browser of a signed-in device that an
// access point reports as let through may be sent on to a.ContinueURL.
func (s *Server) mayContinue(c *fiber.Ctx, a vendor.Arrival) bool {
	if a.ContinueURL == "" {
		return false
	}
	if a.Signature == vendor.SignatureValid {
		return true
	}
	got := c.Cookies(continueCookie)
	ok := got != "" && hmac.Equal([]byte(got), []byte(s.continueHash(a.ContinueURL)))
	if !ok {
		s.stats.continueRefused.Add(1)
	}
	return ok
}

// landing is where a device goes after signing in at an access point when
// it named no page of its own (CoovaChilli's first redirect of a new phone
// often carries an empty userurl): the venue's page, else the portal's
// status page, as an absolute URL the access point can send it to.
func (s *Server) landing(c *fiber.Ctx, explicit string) string {
	if s.cfg.VenueInfoURL != "" {
		return s.cfg.VenueInfoURL
	}
	base := ""
	if s.portal != nil {
		base = s.portal.base
	} else {
		scheme := "http"
		if s.secure(c) {
			scheme = "https"
		}
		base = scheme + "://" + string(c.Request().Host())
	}
	u, ok := vendor.ContinueURL(base + "/status" + langQuery(explicit))
	if !ok {
		return ""
	}
	return u
}
