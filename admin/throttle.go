package admin

import (
	"net/netip"
	"time"

	"roamgate/ratelimit"
)

// Failed sign-ins are slowed down per (user name, client address) and per
// client address, never per user name alone: a name is public, so a limit
// on it alone would let anyone lock the IT team out in the middle of a
// crisis. After maxFailures failures a key waits baseDelay before its next
// try, twice as long after each further failure, up to maxDelay; a key
// without failures for forgetFailures starts afresh. A good password from
// an address clears its pair with that name.
const (
	maxFailures    = 5
	baseDelay      = time.Second
	maxDelay       = 15 * time.Minute
	forgetFailures = time.Hour
	// throttleCap bounds each table, so that a flood of addresses cannot
	// grow it without end.
	throttleCap = 1 << 16
)

// newThrottle is a table of failures under the rule above (package
// ratelimit, which the portal's sign-in limits share).
func newThrottle(now func() time.Time) *ratelimit.Limiter {
	return ratelimit.New(ratelimit.Backoff{Free: maxFailures, Base: baseDelay, Max: maxDelay, Forget: forgetFailures}, throttleCap, now)
}

// addrKey is the throttle's key for a client address: an IPv4 address, or
// the /64 of an IPv6 address, since one host commonly holds a whole /64.
func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
