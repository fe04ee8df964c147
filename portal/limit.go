package portal

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/ratelimit"
)

// Sign-in limits: a phone signs in once; a client address or a MAC that
// posts more often than this is a script (or a NAT of many phones, hence
// the higher per-client figure).
const (
	connectsPerClient = 30
	connectsPerMAC    = 6
	limitWindow       = time.Minute
	maxLimitKeys      = 1 << 16 // bounds memory under a flood of addresses
)

// limits are the sign-in limits per client address and per MAC, each a
// fixed number of tries a minute (package ratelimit, which the admin's
// password back-off shares).
type limits struct {
	client, mac *ratelimit.Limiter
}

func newLimits(perClient, perMAC int, window time.Duration) limits {
	return limits{
		client: ratelimit.New(ratelimit.Window{Max: perClient, Per: window}, maxLimitKeys, nil),
		mac:    ratelimit.New(ratelimit.Window{Max: perMAC, Per: window}, maxLimitKeys, nil),
	}
}

// limitClient is the per-client limit on sign-ins, as fiber middleware.
func (s *Server) limitClient(c *fiber.Ctx) error {
	if ok, wait := s.limits.client.Allow(s.clientIP(c).String()); !ok {
		return s.tooMany(c, wait)
	}
	return c.Next()
}

// allowMAC is the per-MAC limit; key is the MAC's keyed hash, never the MAC.
func (s *Server) allowMAC(key string) (bool, time.Duration) {
	return s.limits.mac.Allow(key)
}

// tooMany answers 429 with the wait until the limit's window ends.
func (s *Server) tooMany(c *fiber.Ctx, wait time.Duration) error {
	s.stats.rateLimited.Add(1)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	lang, _ := s.language(c, "")
	return s.renderError(c, fiber.StatusTooManyRequests, lang, "/")
}
