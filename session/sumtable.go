package session

import (
	"encoding/binary"
	"sync"
)

// sumTable maps MAC sums to the entries of their sessions: the map every
// MAC authentication reads. A shardedMap (a Go map per shard) costs such a
// lookup two hashes of the 32-octet key (the shard's and the map's) and,
// at a million sessions, two cache misses before the entry's: the group's
// control word and then the slot. Here the key is its own hash — a sum is
// an HMAC under the site key, evenly spread, and no one without the key
// can aim at a shard or a slot — and each shard is one array of (key,
// entry) slots with linear probing, so a lookup reads the slot at its
// home position and, less often, the next: a miss or two cache lines.
// Readers take the shard's read lock, writers its lock, as in shardedMap;
// the index serialises its writers on index.mu besides.
type sumTable struct {
	shards [shardCount]sumShard
}

type sumShard struct {
	mu sync.RWMutex
	// slots is a power of two long (or nil), never more than maxLoad
	// full, so that a probe always ends at an empty slot (e == nil).
	slots []sumSlot
	n     int
	// A cache line of its own, as shard: 24 octets of RWMutex, 24 of
	// slice, 8 of count.
	_ [8]byte
}

type sumSlot struct {
	key macSum
	e   *entry
}

const (
	// sumTableMinSlots is a shard's first array.
	sumTableMinSlots = 16
	// A shard's array doubles before it is more than 3/4 full: linear
	// probing's runs stay short (about 2.5 slots per miss, 1.5 per hit at
	// 3/4), and after a doubling it is 3/8 full.
	maxLoadNum, maxLoadDen = 3, 4
)

func (t *sumTable) shard(k *macSum) *sumShard { return &t.shards[t.shardIndex(k)] }

func (t *sumTable) shardIndex(k *macSum) int {
	return int(binary.LittleEndian.Uint64(k[0:8]) % shardCount)
}

// home is where k's probe starts in an array of mask+1 slots: other octets
// of the sum than the shard's.
func home(k *macSum, mask int) int {
	return int(binary.LittleEndian.Uint64(k[8:16]) & uint64(mask))
}

// find returns the slot holding k, or the empty slot where it would go.
// The shard's lock (either) must be held and its array not nil.
func (s *sumShard) find(k *macSum) (int, bool) {
	mask := len(s.slots) - 1
	for i := home(k, mask); ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.e == nil {
			return i, false
		}
		if sl.key == *k {
			return i, true
		}
	}
}

// Load returns the entry stored for k, if any.
func (t *sumTable) Load(k macSum) (*entry, bool) {
	s := t.shard(&k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.slots == nil {
		return nil, false
	}
	i, ok := s.find(&k)
	return s.slots[i].e, ok
}

// Store sets the entry for k; e must not be nil.
func (t *sumTable) Store(k macSum, e *entry) {
	if e == nil {
		panic("session: sumTable.Store of a nil entry")
	}
	s := t.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.n+1)*maxLoadDen > len(s.slots)*maxLoadNum {
		s.grow()
	}
	i, ok := s.find(&k)
	s.slots[i] = sumSlot{key: k, e: e}
	if !ok {
		s.n++
	}
}

// grow doubles the shard's array. Its lock must be held.
func (s *sumShard) grow() {
	old := s.slots
	s.slots = make([]sumSlot, max(sumTableMinSlots, 2*len(old)))
	for j := range old {
		if old[j].e != nil {
			i, _ := s.find(&old[j].key)
			s.slots[i] = old[j]
		}
	}
}

// Delete removes k, if it is there.
func (t *sumTable) Delete(k macSum) {
	s := t.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		return
	}
	if i, ok := s.find(&k); ok {
		s.removeAt(i)
	}
}

// CompareAndDelete removes k if its entry is old, and reports whether it
// did.
func (t *sumTable) CompareAndDelete(k macSum, old *entry) bool {
	s := t.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		return false
	}
	i, ok := s.find(&k)
	if !ok || s.slots[i].e != old {
		return false
	}
	s.removeAt(i)
	return true
}

// removeAt empties slot i and moves back the slots after it whose probe
// would otherwise cross the hole (backward-shift deletion: no tombstones,
// so probes stay as short as the load makes them). The lock must be held.
func (s *sumShard) removeAt(i int) {
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.slots[j].e != nil; j = (j + 1) & mask {
		// Slot j may fill the hole at i if i lies on its probe, from its
		// home to j.
		if h := home(&s.slots[j].key, mask); (j-h)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = sumSlot{}
	s.n--
}
