package portal

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
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

// limiter counts events per key in fixed windows.
type limiter struct {
	mu        sync.Mutex
	now       func() time.Time
	window    time.Duration
	perClient int
	perMAC    int
	start     time.Time
	counts    map[string]int
}

func newLimiter(perClient, perMAC int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{now: now, window: window, perClient: perClient, perMAC: perMAC, counts: map[string]int{}}
}

// allow counts one event for key and reports whether it is within max.
func (l *limiter) allow(key string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); now.Sub(l.start) >= l.window || len(l.counts) >= maxLimitKeys {
		l.start, l.counts = now, make(map[string]int, len(l.counts)/2)
	}
	l.counts[key]++
	return l.counts[key] <= max
}

// limitClient is the per-client limit on sign-ins, as fiber middleware.
func (s *Server) limitClient(c *fiber.Ctx) error {
	if !s.limits.allow("ip:"+s.clientIP(c).String(), s.limits.perClient) {
		return s.tooMany(c)
	}
	return c.Next()
}

// allowMAC is the per-MAC limit; key is the MAC's keyed hash, never the MAC.
func (s *Server) allowMAC(key string) bool {
	return s.limits.allow("mac:"+key, s.limits.perMAC)
}

func (s *Server) tooMany(c *fiber.Ctx) error {
	s.stats.rateLimited.Add(1)
	c.Set(fiber.HeaderRetryAfter, "60")
	lang, _ := s.language(c, "")
	return s.renderError(c, fiber.StatusTooManyRequests, lang, "/")
}
