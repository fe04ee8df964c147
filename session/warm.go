package session

// A RADIUS worker answers a batch of up to 32 Access-Requests read at once,
// and each answer looks its session up: the slot of the MAC index, then the
// session's entry. At 100 000 sessions and more both are cache misses
// (sumShard.find and the entry's first read were 11 % of the RADIUS core in
// the profile of make bench-radius SESSIONS=100000 ROAM=0), and one answer
// after another they come one at a time: between two lookups lie thousands
// of instructions, so the processor never has two of them in flight. Warm
// reads the lines of a whole batch's lookups in two short loops, where the
// misses overlap, before the answers; each answer then finds its lines in
// the cache. (The answers' order and what they read are unchanged: an
// answer still looks its session up itself, under the shard's lock, so a
// session revoked or moved after Warm is seen as it is then.)

// HashedMAC is a MAC address with its index key, as Manager.HashMAC makes
// it: a batch's MACs are hashed once, for Warm and then for the lookup.
type HashedMAC struct {
	MAC    MAC
	sum    macSum
	hasher *Hasher // whose key sum is under; nil in the zero value
	// warmth is what Warm read, kept so that the compiler cannot drop the
	// reads; it means nothing.
	warmth uintptr
}

// HashMAC returns mac with its index key.
func (m *Manager) HashMAC(mac MAC) HashedMAC {
	return HashedMAC{MAC: mac, sum: m.hasher.sum(mac), hasher: m.hasher}
}

// ByHashedMACShared is ByMACShared for a MAC that HashMAC hashed. A
// HashedMAC another Manager (another site key) or no one made is hashed
// again.
func (m *Manager) ByHashedMACShared(h HashedMAC) (Held, error) {
	if h.hasher != m.hasher {
		return m.ByMACShared(h.MAC)
	}
	return m.heldBySum(h.sum)
}

// warmMax is the most lookups one Warm reads ahead: a RADIUS batch.
const warmMax = 64

// loadAll keeps shard indexes as uint8.
const _ = uint8(shardCount - 1)

// Warm reads the index lines that looking up hs will read: each MAC's slot
// and its session's entry (see the top of this file). It changes nothing;
// HashedMACs that no session holds, or that another Manager made, cost a
// slot's read or nothing. Past warmMax it reads the first warmMax.
func (m *Manager) Warm(hs []HashedMAC) {
	hs = hs[:min(len(hs), warmMax)]
	var es [warmMax]*entry
	m.index.macs.loadAll(hs, m.hasher, &es)
	for i := range hs {
		if e := es[i]; e != nil {
			// One read on each line of the entry an Access-Accept reads
			// (entry.exp, the ID and Revoked; Network, CurrentLocation
			// and AP; NAS; Expires and LastSeen).
			w := uintptr(len(e.s.ID)) + uintptr(len(e.s.CurrentLocation)) + uintptr(len(e.s.NAS.ID)) + uintptr(e.s.LastSeen.Nanosecond())
			if e.s.Revoked {
				w++
			}
			hs[i].warmth = w
		}
	}
}

// loadAll sets es[i] to the entry of hs[i]'s key (nil if none, or if
// another hasher made it), reading every slot while holding the read locks
// of all the shards involved. Taken one lookup at a time, each lock's
// atomic instruction waits for the slot read before it: the misses could
// not overlap. The locks are taken in shard order, so that two loadAlls
// and a writer (which holds one shard's lock at a time) cannot wait on
// each other in a circle.
func (t *sumTable) loadAll(hs []HashedMAC, h *Hasher, es *[warmMax]*entry) {
	var order [warmMax]uint8
	n := 0
	for i := range hs {
		if hs[i].hasher != h {
			continue
		}
		k := uint8(t.shardIndex(&hs[i].sum))
		// Insertion into order, sorted and without repeats.
		j := n
		for j > 0 && order[j-1] > k {
			j--
		}
		if j > 0 && order[j-1] == k {
			continue
		}
		copy(order[j+1:n+1], order[j:n])
		order[j] = k
		n++
	}
	for _, k := range order[:n] {
		t.shards[k].mu.RLock()
	}
	for i := range hs {
		if hs[i].hasher != h {
			continue
		}
		s := t.shard(&hs[i].sum)
		if s.slots == nil {
			continue
		}
		if j, ok := s.find(&hs[i].sum); ok {
			es[i] = s.slots[j].e
		}
	}
	for _, k := range order[:n] {
		t.shards[k].mu.RUnlock()
	}
}
