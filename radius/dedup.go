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
//
// The key is 22 octets without pointers, which the map hashes and compares
// as memory: with a netip.AddrPort (its zone a pointer) and layeh.Code (an
// int) it was 48, and the two lookups of each request took 8 % of a core at
// 130 000 answers/s. An IPv6 zone is left out: two link-local sources with
// the same address and port on different links at once would at worst make
// one's retransmission handled afresh, since its authenticator differs.
type dupKey struct {
	addr [16]byte // the source address, an IPv4 one mapped
	port uint16
	l    listener
	code uint8
	id   byte
}

func newDupKey(src netip.AddrPort, l listener, code layeh.Code, id byte) dupKey {
	return dupKey{addr: src.Addr().As16(), port: src.Port(), l: l, code: uint8(code), id: id}
}

type dupEntry struct {
	auth     [authLen]byte
	inFlight bool // being handled; reply is then the buffer to copy it into
	// reply is the cache's own copy of the reply: the worker builds a
	// reply in a buffer of its own, which it reuses for the next batch, and
	// the cache copies it here (finish) and out of here (begin) under the
	// shard's lock. The buffer is reused when the entry is replaced or
	// expires, so a request costs the collector nothing: a reply allocated
	// per request and kept for DuplicateWindow was the last allocation of
	// an Access-Accept, and each collection's mark work runs on the
	// answering core (docs/BENCHMARKS.md, "Phase 2, the collector").
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
	mu sync.Mutex
	// The entries are the map's by pointer, so that a request costs one
	// lookup when it begins and one when it finishes, and changes its
	// entry in place (with entries as values each also stored it back:
	// a second hash and probe and a 72-octet copy).
	m         map[dupKey]*dupEntry
	nextSweep time.Time
	// free holds swept entries, with their buffers, for new keys: at most
	// dupFreePerShard.
	free []*dupEntry
}

// dupFreePerShard bounds the entries kept for new keys: enough for the
// identifiers that expire in one sweep interval at the rates an access
// point network sends, little memory (64 shards × 256 × ~200 octets).
const dupFreePerShard = 256

func (c *dupCache) init() {
	for i := range c.shards {
		c.shards[i].m = make(map[dupKey]*dupEntry)
	}
}

func (c *dupCache) shard(k dupKey) *dupShard {
	return &c.shards[(uint(k.port)*257+uint(k.id))%dupShards]
}

// begin looks a request up. For a new request it records it as in flight;
// the caller must then call finish or abort. A reply to resend is copied
// into dst, which must have room for layeh.MaxPacketLength octets.
func (c *dupCache) begin(k dupKey, auth *[authLen]byte, now time.Time, dst []byte) (dupState, []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[k]
	if e != nil && e.auth == *auth {
		if e.inFlight {
			return dupInFlight, nil
		}
		if now.Before(e.expires) {
			return dupResend, append(dst[:0], e.reply...)
		}
	}
	// A new request, or one reusing the identifier of an older one: the
	// older entry is replaced (RFC 5080 §2.2.2), even if still in flight;
	// its finish will then find a different authenticator and keep out.
	// The new request takes over the older one's entry and buffer.
	if e == nil {
		e = sh.takeFree()
		sh.m[k] = e
	}
	*e = dupEntry{auth: *auth, inFlight: true, reply: e.reply[:0]}
	if now.After(sh.nextSweep) {
		for k, e := range sh.m {
			if !e.inFlight && now.After(e.expires) {
				sh.putFree(e)
				delete(sh.m, k)
			}
		}
		sh.nextSweep = now.Add(time.Second)
	}
	return dupNew, nil
}

// finish stores a copy of the reply of a request begun before.
func (c *dupCache) finish(k dupKey, auth *[authLen]byte, reply []byte, now time.Time) {
	sh := c.shard(k)
	sh.mu.Lock()
	if e := sh.m[k]; e != nil && e.auth == *auth && e.inFlight {
		buf := e.reply[:0]
		if cap(buf) < len(reply) {
			buf = make([]byte, 0, dupBufferSize(len(reply)))
		}
		e.reply, e.inFlight, e.expires = append(buf, reply...), false, now.Add(DuplicateWindow)
	}
	sh.mu.Unlock()
}

// abort forgets a request that got no reply, so that its retransmission is
// handled afresh.
func (c *dupCache) abort(k dupKey, auth *[authLen]byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	if e := sh.m[k]; e != nil && e.auth == *auth {
		delete(sh.m, k)
		sh.putFree(e)
	}
	sh.mu.Unlock()
}

// dupBufferSize is the capacity of a new buffer for an n-octet reply:
// rounded up so that the replies of one access point, which differ by a
// few octets (a longer Reply-Message, one more attribute), fit the buffer
// their identifier's entry had.
func dupBufferSize(n int) int {
	return max(128, (n+63)&^63)
}

// takeFree returns a free entry, or a new one.
func (sh *dupShard) takeFree() *dupEntry {
	n := len(sh.free)
	if n == 0 {
		return new(dupEntry)
	}
	e := sh.free[n-1]
	sh.free[n-1] = nil
	sh.free = sh.free[:n-1]
	return e
}

func (sh *dupShard) putFree(e *dupEntry) {
	if len(sh.free) < dupFreePerShard {
		sh.free = append(sh.free, e)
	}
}
