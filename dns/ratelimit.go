package dns

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// Per-client query limits. One client flooding the resolver must not starve
// the others: before this limit, one client at about 110 000 queries a second
// made 28–62 % of another client's queries fail (issue 11).
const (
	// DefaultRateLimit is the queries a second one client address may send
	// on average. A phone that has just joined asks a few dozen names; a
	// laptop opening a news site some hundred (A, AAAA and HTTPS each), which
	// the burst absorbs.
	DefaultRateLimit = 100
	// DefaultRateBurst is how many queries one client address may send at
	// once before the average applies.
	DefaultRateBurst = 400
	// DefaultGardenMaxResponse caps the answers to walled-garden queries of
	// clients without a session, in bytes. 1232 is the EDNS buffer size of
	// DNS Flag Day 2020: stub resolvers get no larger answer over UDP
	// anyway, and the types allowed before sign-in (A, AAAA, CNAME, HTTPS,
	// SVCB) fit in it. Over TCP a tunnel could otherwise carry 64 KiB an
	// answer.
	DefaultGardenMaxResponse = 1232
	// MinGardenMaxResponse is the smallest cap accepted: 512 bytes, the
	// DNS message size every resolver handled before EDNS.
	MinGardenMaxResponse = 512
	// maxLimitedClients bounds the clients the limiter remembers, so that a
	// flood of (spoofed) source addresses cannot grow it without end. About
	// 50 bytes each: some 3 MiB at most.
	maxLimitedClients = 1 << 16
	limitShards       = 64
)

// rateLimiter is a per-client-address limit on queries, with the generic
// cell rate algorithm (GCRA, the token bucket as one timestamp a client):
// each client has a theoretical arrival time tat; a query is allowed when
// taking one more interval would not put tat more than burst intervals
// ahead of now. A client that stays below the rate never waits.
//
// Addresses are limited one by one, IPv6 too: on a guest WLAN every device
// has its own addresses in the one shared /64, so a /64 would lump all
// devices together.
//
// The limiter is sharded by address, so that queries from different clients
// do not contend for one lock on the query path.
type rateLimiter struct {
	interval int64 // nanoseconds a query "costs"
	window   int64 // burst × interval: how far tat may run ahead of now
	start    time.Time
	perShard int
	shards   [limitShards]limitShard
}

type limitShard struct {
	mu      sync.Mutex
	tat     map[netip.Addr]int64 // nanoseconds since start
	sweptAt int64
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

// newRateLimiter limits each client address to rate queries a second on
// average and burst at once. rate must be positive; burst below 1 is 1.
func newRateLimiter(rate, burst int) *rateLimiter {
	burst = max(burst, 1)
	l := &rateLimiter{
		interval: int64(time.Second) / int64(rate),
		start:    time.Now(),
		perShard: maxLimitedClients / limitShards,
	}
	l.window = l.interval * int64(burst)
	for i := range l.shards {
		l.shards[i].tat = make(map[netip.Addr]int64)
	}
	return l
}

// allow counts one query from a and reports whether it is within the limit.
func (l *rateLimiter) allow(a netip.Addr) bool {
	return l.allowAt(a, int64(time.Since(l.start)))
}

func (l *rateLimiter) allowAt(a netip.Addr, now int64) bool {
	s := &l.shards[shardOf(a)]
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, known := s.tat[a]
	if !known || tat < now {
		tat = now
	}
	next := tat + l.interval
	if next-now > l.window {
		return false
	}
	if !known && len(s.tat) >= l.perShard {
		s.makeRoom(now, l.window, l.perShard)
	}
	s.tat[a] = next
	return true
}

// makeRoom forgets the clients whose bucket is full again (forgetting them
// changes nothing), sweeping at most once per window; if that frees
// nothing, it forgets an arbitrary client. Must be called with mu held.
func (s *limitShard) makeRoom(now, window int64, limit int) {
	if now-s.sweptAt >= window {
		s.sweptAt = now
		for a, tat := range s.tat {
			if tat <= now {
				delete(s.tat, a)
			}
		}
	}
	for a := range s.tat {
		if len(s.tat) < limit {
			break
		}
		delete(s.tat, a) // map order is random: a random client
	}
}

// clients is how many addresses the limiter remembers.
func (l *rateLimiter) clients() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// shardOf spreads addresses over the shards: a multiplicative hash of the
// address's 128 bits.
func shardOf(a netip.Addr) int {
	b := a.As16()
	x := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	x *= 0x9e3779b97f4a7c15
	return int(x >> 58) // 64 shards: the top 6 bits
}
