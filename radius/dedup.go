package radius

import (
	"net/netip"
	"sync"
	"time"

	layeh "layeh.com/radius"
)

// DuplicateWindow is how long a reply is kept to answer retransmissions of
// its request (RFC 5080 §2.2.2; FreeRADIUS's cleanup_delay is the same 5 s).
// Access points retransmit after 1–5 s and give up after a few tries.
const DuplicateWindow = 5 * time.Second

// dupKey identifies a request as RFC 5080 §2.2.2 does: source address and
// port, the socket it came in on, code and identifier. The Request
// Authenticator, kept in the entry, tells a retransmission (same) from a new
// request that reuses the identifier (different).
type dupKey struct {
	src  netip.AddrPort
	l    listener
	code layeh.Code
	id   byte
}

type dupEntry struct {
	auth [authLen]byte
	// reply is nil while the request is being handled.
	reply   []byte
	expires time.Time
}

// dupState is what the cache knows of a request.
type dupState uint8

const (
	dupNew      dupState = iota // first sight: handle it
	dupResend                   // answered before: resend the cached reply
	dupInFlight                 // being handled: drop, the reply will do
)

const dupShards = 64

// dupCache is the RFC 5080 duplicate cache, sharded so the workers rarely
// contend. Its size is bounded by the key space (256 identifiers per source
// port and code) and by the sweep of expired entries.
type dupCache struct {
	shards [dupShards]dupShard
}

type dupShard struct {
	mu        sync.Mutex
	m         map[dupKey]dupEntry
	nextSweep time.Time
}

func (c *dupCache) init() {
	for i := range c.shards {
		c.shards[i].m = make(map[dupKey]dupEntry)
	}
}

func (c *dupCache) shard(k dupKey) *dupShard {
	return &c.shards[(uint(k.src.Port())*257+uint(k.id))%dupShards]
}

// begin looks a request up. For a new request it records it as in flight;
// the caller must then call finish or abort.
func (c *dupCache) begin(k dupKey, auth *[authLen]byte, now time.Time) (dupState, []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok && e.auth == *auth {
		if e.reply == nil {
			return dupInFlight, nil
		}
		if now.Before(e.expires) {
			return dupResend, e.reply
		}
	}
	// A new request, or one reusing the identifier of an older one: the
	// older entry is replaced (RFC 5080 §2.2.2), even if still in flight;
	// its finish will then find a different authenticator and keep out.
	sh.m[k] = dupEntry{auth: *auth}
	if now.After(sh.nextSweep) {
		for k, e := range sh.m {
			if e.reply != nil && now.After(e.expires) {
				delete(sh.m, k)
			}
		}
		sh.nextSweep = now.Add(time.Second)
	}
	return dupNew, nil
}

// finish stores the reply of a request begun before. reply must not be
// changed afterwards.
func (c *dupCache) finish(k dupKey, auth *[authLen]byte, reply []byte, now time.Time) {
	sh := c.shard(k)
	sh.mu.Lock()
	if e, ok := sh.m[k]; ok && e.auth == *auth {
		sh.m[k] = dupEntry{auth: *auth, reply: reply, expires: now.Add(DuplicateWindow)}
	}
	sh.mu.Unlock()
}

// abort forgets a request that got no reply, so that its retransmission is
// handled afresh.
func (c *dupCache) abort(k dupKey, auth *[authLen]byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	if e, ok := sh.m[k]; ok && e.auth == *auth {
		delete(sh.m, k)
	}
	sh.mu.Unlock()
}
