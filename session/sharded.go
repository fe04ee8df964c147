package session

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// shardCount is how many shards a shardedMap has. A power of two, so that
// picking one is a mask. Readers on different cores take different shards'
// read locks nearly always; more shards cost memory in every Manager
// (shardCount × 64 bytes a map) and time in Range.
const shardCount = 256

// shardedMap is a map split into shards, each a plain Go map behind its own
// RWMutex: the index's replacement for sync.Map. At 100 000 and more keys
// sync.Map's hash-trie is a chain of pointer hops, each a cache miss, with
// keys boxed in interfaces and many small nodes for the GC to scan; a Go
// map keeps its keys and values in a few large arrays. Readers take one
// shard's read lock; writers take its lock (the index also serialises its
// writers on index.mu, so a writer never waits for another).
//
// The zero value is empty and ready to use. V is compared with == by
// CompareAndDelete, as sync.Map compares its values.
type shardedMap[K comparable, V comparable, H keyHash[K]] struct {
	shards [shardCount]shard[K, V]
}

type shard[K comparable, V comparable] struct {
	mu sync.RWMutex
	m  map[K]V
	// Each shard has a cache line of its own: a reader's RLock writes the
	// lock word, which would otherwise slow readers of the next shard on
	// another core. 24 bytes of RWMutex and 8 of map pointer, 32 to pad;
	// TestShardSize holds it to 64.
	_ [32]byte
}

// keyHash picks the shard for a key. Its zero value is used, so that a
// shardedMap needs no constructor.
type keyHash[K any] interface{ hash(K) uint64 }

// shardSeed seeds the shard hashes. Per process, so that which keys share a
// shard cannot be known from outside (session IDs are random; client
// addresses are not, and a device can pick its own). MAC keys are in a
// sumTable, whose keys — HMACs under the site key — are their own hash.
var shardSeed = maphash.MakeSeed()

// stringHash hashes every byte of a string key: keys that differ only in
// their last bytes (as IDs made by a counter do in tests) still spread.
type stringHash[K ~string] struct{}

func (stringHash[K]) hash(k K) uint64 { return maphash.String(shardSeed, string(k)) }

type addrHash struct{}

func (addrHash) hash(a netip.Addr) uint64 {
	b := a.As16() // the zone, if any, is left out: equal keys still hash alike
	return maphash.Bytes(shardSeed, b[:])
}

type prefixHash struct{}

func (prefixHash) hash(p netip.Prefix) uint64 {
	return addrHash{}.hash(p.Addr()) ^ uint64(p.Bits())
}

func (m *shardedMap[K, V, H]) shardOf(k K) *shard[K, V] {
	var h H
	return &m.shards[h.hash(k)%shardCount]
}

// Load returns the value stored for k, if any.
func (m *shardedMap[K, V, H]) Load(k K) (V, bool) {
	s := m.shardOf(k)
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

// Store sets the value for k.
func (m *shardedMap[K, V, H]) Store(k K, v V) {
	m.Swap(k, v)
}

// Swap sets the value for k and returns the value it replaced, if any.
func (m *shardedMap[K, V, H]) Swap(k K, v V) (prev V, loaded bool) {
	s := m.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[K]V)
	}
	prev, loaded = s.m[k]
	s.m[k] = v
	return prev, loaded
}

// CompareAndDelete deletes k if its value is old, and reports whether it
// did. An absent k is never deleted, whatever old is.
func (m *shardedMap[K, V, H]) CompareAndDelete(k K, old V) bool {
	s := m.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[k]; !ok || cur != old {
		return false
	}
	delete(s.m, k)
	return true
}

// Delete deletes k.
func (m *shardedMap[K, V, H]) Delete(k K) {
	s := m.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
}

// Range calls f for every key and value until f returns false. As with
// sync.Map it is not a snapshot of the whole map: each shard is copied
// under its read lock and f is called after the lock is released, so that
// f may read and write the map (index.drop deletes as it goes, and a
// writer waiting for a shard's lock held by its own goroutine would never
// get it). f may therefore see a pair that was changed or deleted since it
// was copied.
func (m *shardedMap[K, V, H]) Range(f func(K, V) bool) {
	type pair struct {
		k K
		v V
	}
	var buf []pair
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		if n := len(s.m); cap(buf) < n {
			// Shards hold about as many keys as each other: room for
			// a little more than this one's, once, not append's doublings.
			buf = make([]pair, 0, n+n/4)
		}
		buf = buf[:0]
		for k, v := range s.m {
			buf = append(buf, pair{k, v})
		}
		s.mu.RUnlock()
		for _, p := range buf {
			if !f(p.k, p.v) {
				return
			}
		}
	}
}
