package ratelimit

import (
	"slices"
	"sync"
	"time"
)

// Policy decides, from a key's record, when the key may try again and when
// its record can be forgotten. Window and Backoff are the policies.
type Policy interface {
	// until is when a key with record r may have its next event; a time not
	// after now means at once.
	until(r record) time.Time
	// expired reports whether r is over at now: the key starts afresh, so
	// forgetting r changes nothing.
	expired(r record, now time.Time) bool
}

// record is what a Limiter keeps of one key.
type record struct {
	n     int       // events counted since the record started
	first time.Time // the first of them
	last  time.Time // the latest of them
}

// Window allows Max events a key in each period Per. The period opens with
// the key's first event, not on the clock, so that keys do not all start
// afresh at one instant; once Max events are in it, the key waits until it
// ends.
type Window struct {
	Max int
	Per time.Duration
}

func (w Window) until(r record) time.Time {
	if r.n < w.Max {
		return r.first
	}
	return r.first.Add(w.Per)
}

func (w Window) expired(r record, now time.Time) bool { return now.Sub(r.first) >= w.Per }

// Backoff lets a key have Free events, then makes it wait Base after its
// last one, twice as long after each further event, up to Max. A key
// without an event for Forget starts afresh.
type Backoff struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Delay is how long a key with n events waits after its last one.
func (b Backoff) Delay(n int) time.Duration {
	if n < b.Free {
		return 0
	}
	d := b.Base
	for i := b.Free; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

func (b Backoff) until(r record) time.Time { return r.last.Add(b.Delay(r.n)) }

func (b Backoff) expired(r record, now time.Time) bool { return now.Sub(r.last) >= b.Forget }

// Limiter counts events per key under a Policy. It is safe for concurrent
// use.
type Limiter struct {
	policy Policy
	size   int
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*record
}

// New returns a Limiter that remembers at most size keys (at least 1). now
// is its clock; nil means time.Now.
func New(p Policy, size int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, size: max(size, 1), now: now, keys: map[string]*record{}}
}

// Wait is how long key must wait before its next event; 0 means now.
func (l *Limiter) Wait(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wait(key, now)
}

func (l *Limiter) wait(key string, now time.Time) time.Duration {
	r := l.keys[key]
	if r == nil || l.policy.expired(*r, now) {
		return 0
	}
	return max(l.policy.until(*r).Sub(now), 0)
}

// Add counts an event of key, whether or not the key had to wait (the
// caller decides what an event is: every try, or only a failed one).
func (l *Limiter) Add(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(key, now)
}

func (l *Limiter) add(key string, now time.Time) {
	r := l.keys[key]
	if r != nil && l.policy.expired(*r, now) {
		*r = record{}
	}
	if r == nil {
		if len(l.keys) >= l.size {
			l.evict(now)
		}
		r = &record{}
		l.keys[key] = r
	}
	if r.n == 0 {
		r.first = now
	}
	r.n++
	r.last = now
}

// Allow counts an event of key and reports true if the key need not wait;
// otherwise it counts nothing and returns how long the key must wait.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.wait(key, now); w > 0 {
		return false, w
	}
	l.add(key, now)
	return true, 0
}

// Reset forgets key's events.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// Len is how many keys the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// evict makes room: it drops the expired records and, if that is not
// enough, the records whose wait ends first (the least slowed down keys),
// down to fifteen sixteenths of the size, so that a flood of new keys costs
// one sweep per size/16 keys rather than one per key. Must be called with
// mu held.
func (l *Limiter) evict(now time.Time) {
	type candidate struct {
		key   string
		until time.Time
	}
	live := make([]candidate, 0, len(l.keys))
	for k, r := range l.keys {
		if l.policy.expired(*r, now) {
			delete(l.keys, k)
			continue
		}
		live = append(live, candidate{k, l.policy.until(*r)})
	}
	keep := l.size - max(l.size/16, 1)
	if len(live) <= keep {
		return
	}
	slices.SortFunc(live, func(a, b candidate) int { return a.until.Compare(b.until) })
	for _, c := range live[:len(live)-keep] {
		delete(l.keys, c.key)
	}
}
