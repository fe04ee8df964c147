package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// entry is an immutable snapshot of a session in the index; changes replace
// the pointer, so readers never lock.
type entry struct {
	s   Session
	exp time.Time // from the verified token
}

// index maps session IDs and MAC keys to entries. Reads are lock-free
// (sync.Map is built for read-mostly keys); writers serialise on mu so that
// the two maps stay consistent.
type index struct {
	mu    sync.Mutex
	ids   sync.Map // string → *entry
	macs  sync.Map // MACKey → *entry
	count atomic.Int64
}

func (x *index) byID(id string) *entry {
	v, ok := x.ids.Load(id)
	if !ok {
		return nil
	}
	return v.(*entry)
}

func (x *index) byMAC(k MACKey) *entry {
	v, ok := x.macs.Load(k)
	if !ok {
		return nil
	}
	return v.(*entry)
}

func (x *index) put(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.store(e)
}

// store must be called with mu held.
func (x *index) store(e *entry) {
	if _, loaded := x.ids.Swap(e.s.ID, e); !loaded {
		x.count.Add(1)
	}
	if e.s.MACKey != "" {
		x.macs.Store(e.s.MACKey, e)
	}
}

// load adds an entry read from the store at start-up. Two stored sessions
// can carry the same MAC key (a device whose session went idle signed in
// again; a session was rebound to a MAC another session had) and a store
// returns them in no particular order, so the MAC goes to the session the
// device was seen with last, not to whichever was read last.
func (x *index) load(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.s.MACKey != "" {
		if cur := x.byMAC(e.s.MACKey); cur != nil && cur.s.ID != e.s.ID && seenLater(cur.s, e.s) {
			// e is reachable by ID (and token) only.
			if _, loaded := x.ids.Swap(e.s.ID, e); !loaded {
				x.count.Add(1)
			}
			return
		}
	}
	x.store(e)
}

// seenLater reports whether a was seen after b, breaking ties by creation
// and then by ID so that the outcome never depends on order.
func seenLater(a, b Session) bool {
	switch {
	case !a.LastSeen.Equal(b.LastSeen):
		return a.LastSeen.After(b.LastSeen)
	case !a.Created.Equal(b.Created):
		return a.Created.After(b.Created)
	}
	return a.ID > b.ID
}

// update replaces the entry of id with f's result, keeping MAC mappings.
func (x *index) update(id string, f func(s *Session)) (Session, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.byID(id)
	if old == nil {
		return Session{}, false
	}
	e := &entry{s: old.s, exp: old.exp}
	f(&e.s)
	x.ids.Store(id, e)
	if e.s.MACKey != "" {
		if cur := x.byMAC(e.s.MACKey); cur == nil || cur.s.ID == id {
			x.macs.Store(e.s.MACKey, e)
		}
	}
	return e.s, true
}

func (x *index) touch(id string, a Activity) (Session, bool) {
	return x.update(id, func(s *Session) {
		if a.Location != "" && s.CurrentLocation != "" && a.Location != s.CurrentLocation {
			s.Roams++
		}
		if a.Location != "" {
			s.CurrentLocation = a.Location
		}
		if a.AP != "" {
			s.AP = a.AP
		}
		if a.At.After(s.LastSeen) {
			s.LastSeen = a.At.UTC()
		}
		if a.InputOctets != 0 {
			s.InputOctets = a.InputOctets
		}
		if a.OutputOctets != 0 {
			s.OutputOctets = a.OutputOctets
		}
	})
}

func (x *index) revoke(id string) {
	x.update(id, func(s *Session) { s.Revoked = true })
}

func (x *index) rebind(id string, old, key MACKey, random bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.byID(id)
	if cur == nil {
		return
	}
	e := &entry{s: cur.s, exp: cur.exp}
	e.s.MACKey, e.s.RandomMAC = key, random
	if old != "" {
		x.macs.CompareAndDelete(old, cur)
	}
	x.store(e)
}

// drop removes the entries for which ended is true and returns how many.
func (x *index) drop(ended func(*entry) bool) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	x.ids.Range(func(k, v any) bool {
		e := v.(*entry)
		if !ended(e) {
			return true
		}
		x.ids.Delete(k)
		if e.s.MACKey != "" {
			if cur := x.byMAC(e.s.MACKey); cur != nil && cur.s.ID == e.s.ID {
				x.macs.Delete(e.s.MACKey)
			}
		}
		x.count.Add(-1)
		n++
		return true
	})
	return n
}

func (x *index) each(f func(*entry)) {
	x.ids.Range(func(_, v any) bool {
		f(v.(*entry))
		return true
	})
}
