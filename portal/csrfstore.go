package portal

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// maxCSRFTokens bounds the CSRF tokens kept in memory. Every browser that
// opens the splash without a CSRF cookie gets a token that lives for
// csrfExpiration; without a bound, anyone requesting the splash in a loop
// would grow the process without end. At about 200 bytes a token this is
// some 20 MiB at most; when full, the oldest token goes first (its browser
// gets a fresh form after one 403).
const maxCSRFTokens = 100_000

// maxFormsPerClient bounds the pending sign-in forms (CSRF tokens) of one
// client address. Without it one client requesting the splash in a loop
// would push every other browser's token out of the bounded store; with
// it, its own oldest tokens go first, and evicting the others would take
// maxCSRFTokens/maxFormsPerClient addresses. A browser keeps one token (its
// cookie); the figure leaves room for the phones of an access point that
// NATs them behind one address.
const maxFormsPerClient = 64

// formLedger is a CSRF storage that knows whose each pending form is:
// ClaimForm records owner (a keyed hash of the client address, formOwner)
// as the owner of the stored token key and drops the owner's oldest tokens
// beyond perOwner and everyone's oldest beyond total, returning how many it
// dropped. The built-in boundedStore is one; the session store's Redis
// (session/redis KV) is another.
type formLedger interface {
	ClaimForm(key, owner string, perOwner, total int) int
}

// boundedStore is a fiber.Storage in memory with a size limit and expiry.
type boundedStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element
	order   *list.List            // front: oldest
	owners  map[string]*list.List // an owner's entries (*list.Element of order), front: oldest

	evicted atomic.Uint64
}

type storeEntry struct {
	key     string
	val     []byte
	expires time.Time // zero: never
	owner   string
	ownerEl *list.Element // in owners[owner]
}

func newBoundedStore(max int, now func() time.Time) *boundedStore {
	return &boundedStore{max: max, now: now, entries: map[string]*list.Element{}, order: list.New(), owners: map[string]*list.List{}}
}

// ClaimForm records owner as the owner of key, if key is stored and has
// none, and drops the owner's oldest entries beyond perOwner. It returns how
// many it dropped. total is the store's own size limit (b.max), applied by
// Set.
func (b *boundedStore) ClaimForm(key, owner string, perOwner, _ int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.entries[key]
	if !ok {
		return 0
	}
	e := el.Value.(*storeEntry)
	if e.ownerEl != nil {
		return 0 // the first owner keeps it (a phone that moved on)
	}
	own := b.owners[owner]
	if own == nil {
		own = list.New()
		b.owners[owner] = own
	}
	e.owner, e.ownerEl = owner, own.PushBack(el)
	dropped := 0
	for own.Len() > perOwner {
		b.remove(own.Front().Value.(*list.Element)) // removes it from own too
		dropped++
	}
	return dropped
}

func (b *boundedStore) Get(key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.entries[key]
	if !ok {
		return nil, nil
	}
	e := el.Value.(*storeEntry)
	if !e.expires.IsZero() && !b.now().Before(e.expires) {
		b.remove(el)
		return nil, nil
	}
	return append([]byte(nil), e.val...), nil
}

func (b *boundedStore) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &storeEntry{key: key, val: append([]byte(nil), val...)}
	if exp > 0 {
		e.expires = b.now().Add(exp)
	}
	if el, ok := b.entries[key]; ok {
		b.remove(el)
	}
	b.entries[key] = b.order.PushBack(e)
	// Expired entries at the front go first; then, if still full, the
	// oldest live ones.
	for b.order.Len() > 0 {
		front := b.order.Front()
		fe := front.Value.(*storeEntry)
		expired := !fe.expires.IsZero() && !b.now().Before(fe.expires)
		if !expired && b.order.Len() <= b.max {
			break
		}
		if !expired {
			b.evicted.Add(1)
		}
		b.remove(front)
	}
	return nil
}

// remove must be called with mu held.
func (b *boundedStore) remove(el *list.Element) {
	e := el.Value.(*storeEntry)
	delete(b.entries, e.key)
	b.order.Remove(el)
	if e.ownerEl != nil {
		own := b.owners[e.owner]
		own.Remove(e.ownerEl)
		if own.Len() == 0 {
			delete(b.owners, e.owner)
		}
		e.ownerEl = nil
	}
}

func (b *boundedStore) Delete(key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.entries[key]; ok {
		b.remove(el)
	}
	return nil
}

func (b *boundedStore) Reset() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries, b.order, b.owners = map[string]*list.Element{}, list.New(), map[string]*list.List{}
	return nil
}

func (b *boundedStore) Close() error { return nil }

func (b *boundedStore) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}
