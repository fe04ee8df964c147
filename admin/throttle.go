package admin

import (
	"net/netip"
	"sync"
	"time"
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

// throttle counts failures per key and says how long a key must wait.
type throttle struct {
	free int // failures before the first delay
	now  func() time.Time

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newThrottle(free int, now func() time.Time) *throttle {
	return &throttle{free: free, now: now, keys: map[string]*failures{}}
}

// delay is how long a key with n failures waits after its last one.
func (t *throttle) delay(n int) time.Duration {
	if n < t.free {
		return 0
	}
	d := baseDelay
	for i := t.free; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// wait is how long key must wait before its next try; 0 means now.
func (t *throttle) wait(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.keys[key]
	if f == nil {
		return 0
	}
	return max(f.last.Add(t.delay(f.n)).Sub(now), 0)
}

// fail counts a failure of key.
func (t *throttle) fail(key string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.keys[key]
	if f != nil && now.Sub(f.last) >= forgetFailures {
		f.n = 0
	}
	if f == nil {
		if len(t.keys) >= throttleCap {
			t.evict(now)
		}
		f = &failures{}
		t.keys[key] = f
	}
	f.n++
	f.last = now
}

// evict makes room: it drops the forgotten keys, and if none is, the key
// whose wait ends first (it is the least slowed down).
func (t *throttle) evict(now time.Time) {
	var (
		soonest string
		end     time.Time
	)
	for k, f := range t.keys {
		if now.Sub(f.last) >= forgetFailures {
			delete(t.keys, k)
			continue
		}
		if e := f.last.Add(t.delay(f.n)); soonest == "" || e.Before(end) {
			soonest, end = k, e
		}
	}
	if len(t.keys) >= throttleCap {
		delete(t.keys, soonest)
	}
}

// reset forgets key's failures.
func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
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
