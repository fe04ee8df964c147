package portal

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CaptiveMediaType is RFC 8908's media type of the captive portal API.
const CaptiveMediaType = "application/captive+json"

// captiveState is the RFC 8908 §5 JSON object.
type captiveState struct {
	Captive          bool   `json:"captive"`
	UserPortalURL    string `json:"user-portal-url,omitempty"`
	VenueInfoURL     string `json:"venue-info-url,omitempty"`
	CanExtendSession *bool  `json:"can-extend-session,omitempty"`
	SecondsRemaining *int64 `json:"seconds-remaining,omitempty"`
}

// handleCaptiveAPI is GET /api/captive (RFC 8908), the URI DHCP option 114
// and RA option 37 announce. The device is known by its cookie or address.
func (s *Server) handleCaptiveAPI(c *fiber.Ctx) error {
	st := captiveState{Captive: true, UserPortalURL: s.portal.userPortal(c), VenueInfoURL: s.cfg.VenueInfoURL}
	if sess, ok := s.sessionOf(c); ok {
		st.Captive = false
		left := int64(s.deps.Sessions.TimeLeft(sess) / time.Second)
		no := false // a session is never extended: the citizen signs in again
		st.SecondsRemaining, st.CanExtendSession = &left, &no
	}
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// RFC 8908 §5: the state changes with the session; never cache it.
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, CaptiveMediaType)
	return c.Send(body)
}
