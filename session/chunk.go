package session

import "unsafe"

// The index allocates its entries itself, a chunk of them at a time, so
// that the garbage collector sees a few thousand objects where it saw
// millions. At a million sessions the index was six heap objects per
// session (the entry, the association it left, the MAC key and the
// Acct-Session-Ids as strings of their own) and one collection marked them
// for 0.6–1.3 s of CPU (BenchmarkIndexGC): the runtime collects at least
// every two minutes, and on the one core RADIUS runs on that is a burst of
// answers delayed by milliseconds. In a chunk, an entry and its strings
// are part of one large object, marked once and scanned in order.
//
// Entries stay immutable: a slot is written once, before the index
// publishes it, and never reused, so a reader needs no lock to read an
// entry it found (as before). A change takes a new slot and leaves the old
// one dead; the collector frees a chunk once its every slot is dead and no
// reader holds one, and compaction (index.compact) moves the live entries
// out of the sparsest chunks when the dead slots add up.

// chunkEntries is how many entries a chunk has: moving a chunk's live
// entries out (compact) is done under the writers' lock, so a chunk is
// small enough for that to take at most a few hundred microseconds, and
// large enough that a million sessions are a few thousand chunks.
const chunkEntries = 256

// chunkTextPerEntry is the room a chunk has for its entries' strings, on
// average per entry: a MAC key is 64 hex digits, an Acct-Session-Id
// typically 16 (CoovaChilli and hostapd), the association left its own.
const chunkTextPerEntry = 128

// maxEntryText is the most one entry copies into its chunk; a chunk with
// less room left is full. A longer string (an Acct-Session-Id may have 253
// octets) stays where it was.
const maxEntryText = 3 * 96

type entryChunk struct {
	entries [chunkEntries]entry
	used    int // slots handed out, in order
	live    int // of those, the entries the index maps an ID to
	pos     int // in index.chunks; -1 once forgotten
	// sparseAt is 1 + the chunk's place in index.sparse, 0 if not there.
	sparseAt int
	text     int // octets of bytes used
	// bytes holds the entries' own strings (see own). It has no pointers,
	// so the collector does not scan it.
	bytes [chunkEntries * chunkTextPerEntry]byte
}

func (c *entryChunk) full() bool {
	return c.used == len(c.entries) || len(c.bytes)-c.text < maxEntryText
}

// keep moves the string at p into the chunk, if it is short enough to be
// an entry's own and there is room.
func (c *entryChunk) keep(p *string) {
	s := *p
	if len(s) == 0 || len(s) > maxEntryText/3 || len(c.bytes)-c.text < len(s) {
		return
	}
	b := c.bytes[c.text : c.text+len(s)]
	copy(b, s)
	c.text += len(s)
	// The octets are never written again: the chunk only appends.
	*p = unsafe.String(&b[0], len(b))
}

// own moves the strings that are e's alone into e's chunk: the MAC key and
// the Acct-Session-Ids (the names of places are interned, shared by many
// sessions; the ID stays the string the address and NAS maps hold too).
func (e *entry) own() {
	c := e.c
	c.keep((*string)(&e.s.MACKey))
	c.keep(&e.s.NAS.AcctSessionID)
	c.keep(&e.prev.nas.AcctSessionID)
}

// newEntry returns a new slot holding a copy of from (a zero entry if nil),
// not yet published. mu must be held.
func (x *index) newEntry(from *entry) *entry {
	c := x.cur
	if c == nil || c.full() {
		if c != nil && c.live == 0 {
			x.forget(c)
		} else if c != nil && c.live < chunkEntries/2 {
			x.pushSparse(c)
		}
		c = &entryChunk{pos: len(x.chunks)}
		x.chunks = append(x.chunks, c)
		x.cur = c
	}
	e := &c.entries[c.used]
	c.used++
	if from != nil {
		*e = *from
	}
	e.c = c
	return e
}

// abandon gives back e, the slot newEntry returned last, unpublished.
func (x *index) abandon(e *entry) {
	c := e.c
	*e = entry{}
	c.used--
}

// adopt returns a published-ready copy of tmpl in a slot of the index's
// own: names interned, ID decoded, strings owned.
func (x *index) adopt(tmpl *entry) *entry {
	e := x.newEntry(tmpl)
	e.s.intern()
	e.decodeID()
	e.own()
	return e
}

// setID maps e's ID to e and returns the entry it replaced (nil if none).
// mu must be held; every entry the ID map holds goes in through here and
// out through setID or deleteID, which keep the chunks' live counts.
func (x *index) setID(e *entry) *entry {
	old, loaded := x.ids.Swap(e.s.ID, e)
	e.c.live++
	if loaded {
		x.release(old)
	} else {
		x.count.Add(1)
	}
	return old
}

// deleteID removes e, the entry the ID map holds for its ID. mu must be
// held.
func (x *index) deleteID(e *entry) {
	x.ids.Delete(e.s.ID)
	x.count.Add(-1)
	x.release(e)
}

// release notes that the ID map no longer holds e; a chunk left with no
// live entry is forgotten (the collector frees it when no reader has an
// entry of it).
func (x *index) release(e *entry) {
	c := e.c
	c.live--
	switch {
	case c == x.cur:
	case c.live == 0:
		x.forget(c)
	case c.live == chunkEntries/2-1:
		// Only the current chunk gains entries: a chunk crosses the
		// half once after it was current.
		x.pushSparse(c)
	}
}

// forget takes c out of the chunks, and out of the sparse ones, once: a
// chunk nothing but the index refers to is for the collector to free.
func (x *index) forget(c *entryChunk) {
	if c.pos < 0 {
		return
	}
	last := x.chunks[len(x.chunks)-1]
	x.chunks[c.pos], last.pos = last, c.pos
	x.chunks[len(x.chunks)-1] = nil
	x.chunks = x.chunks[:len(x.chunks)-1]
	c.pos = -1
	x.dropSparse(c)
}

func (x *index) pushSparse(c *entryChunk) {
	if c.sparseAt == 0 {
		x.sparse = append(x.sparse, c)
		c.sparseAt = len(x.sparse)
	}
}

// dropSparse takes c out of the sparse chunks, if it is there.
func (x *index) dropSparse(c *entryChunk) {
	if c.sparseAt == 0 {
		return
	}
	last := x.sparse[len(x.sparse)-1]
	x.sparse[c.sparseAt-1], last.sparseAt = last, c.sparseAt
	x.sparse[len(x.sparse)-1] = nil
	x.sparse = x.sparse[:len(x.sparse)-1]
	c.sparseAt = 0
}

// popSparse returns a chunk that fell below half live, nil if none did.
func (x *index) popSparse() *entryChunk {
	if len(x.sparse) == 0 {
		return nil
	}
	c := x.sparse[len(x.sparse)-1]
	x.dropSparse(c)
	return c
}

// wasteful reports whether the chunks have many more slots than there
// are live entries: a quarter more, and two chunks, beyond them.
func (x *index) wasteful() bool {
	slots := len(x.chunks) * chunkEntries
	live := int(x.count.Load())
	return slots > live+live/4+2*chunkEntries
}

// compactAll compacts until the chunks are no longer wasteful, one chunk
// per hold of mu so that writers get in between, and one chunk per turn
// of the background writers (BackgroundTurn) so that the RADIUS answers
// do too: with GOMAXPROCS 1 the chunks of one call ran back to back on
// the only P, 2 ms a flush on average under 5 % roaming (make
// bench-radius, PROFILE).
// The Manager's background writer calls it after the changes it writes
// (Manager.flushLoop), and drop after its range: never a writer on the
// RADIUS request path, where moving a chunk's entries would delay an
// answer by up to a few hundred microseconds.
func (x *index) compactAll() {
	for compacted := true; compacted; {
		BackgroundTurn()
		x.mu.Lock()
		compacted = x.sweeping == 0 && x.compact()
		x.mu.Unlock()
		BackgroundDone()
	}
}

// compact moves the live entries of a sparse chunk into the current
// chunk, when the chunks are wasteful, and reports whether it freed the
// chunk (compactAll repeats it until it does not). At most chunkEntries
// moves. mu must be held.
func (x *index) compact() bool {
	if !x.wasteful() {
		return false
	}
	sparse := x.popSparse()
	if sparse == nil {
		// Every chunk is at least half live, and together they are
		// wasteful: the sparsest is at most 4/5 live. Finding it costs
		// a look at each chunk (a few thousand at a million sessions),
		// little beside the moves it saves.
		for _, c := range x.chunks {
			if c != x.cur && (sparse == nil || c.live < sparse.live) {
				sparse = c
			}
		}
	}
	if sparse == nil {
		return false
	}
	for i := 0; i < sparse.used && sparse.live > 0; i++ {
		e := &sparse.entries[i]
		if e.s.ID != "" && x.byID(e.s.ID) == e {
			x.modifyLocked(e.s.ID, func(*entry) bool { return true })
		}
	}
	if sparse.live != 0 {
		return false // cannot be: every live entry is in the ID map
	}
	x.forget(sparse) // if no entry was live, no release did
	return true
}
