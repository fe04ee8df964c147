package session

import (
	"encoding/hex"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unique"
)

// entry is an immutable snapshot of a session in the index; changes replace
// the pointer, so readers hold no lock while they use one.
type entry struct {
	exp time.Time // from the verified token; first, beside the session's hot fields
	// id is s.ID's 128 bits (zero if s.ID is not what newID makes, as only
	// tests make; see decodeID): RADIUS writes the ID into every
	// Access-Accept (Held.AppendID), and encoding these, on the entry's
	// first cache line, costs less at a million sessions than reading the
	// string's own octets, a cache miss elsewhere (6 % of the core in the
	// profile of make bench-radius SESSIONS=1000000). Here, not in Session,
	// so that Sessions still compare equal field by field.
	id [16]byte
	s  Session
	// since is when the session's current association (Session.NAS and
	// AP) began (Unix nanoseconds, 0 if unknown), and prev the association
	// it replaced (not known until the session first changes association):
	// reports of an older association never move the session (see touch).
	// Both are known only in memory; after a restart every association is
	// as new as any. Kept small: there is one entry per live session.
	since int64
	prev  place
	// c is the chunk the entry is a slot of (see chunk.go); nil in an
	// entry the index has not adopted.
	c *entryChunk
}

// decodeID sets e.id from e.s.ID where that is 32 lower-case hex digits,
// as newID makes it, and zeroes it otherwise.
func (e *entry) decodeID() {
	e.id = [16]byte{}
	if len(e.s.ID) != 2*len(e.id) {
		return
	}
	var id [16]byte
	var again [32]byte
	if _, err := hex.Decode(id[:], []byte(e.s.ID)); err != nil {
		return
	}
	if hex.Encode(again[:], id[:]); string(again[:]) == e.s.ID {
		e.id = id
	}
}

// Held is a session as the index holds it, for a reader on a hot path
// (Manager.ByMACShared): the session, which the reader must not change
// nor keep, and what the index keeps beside it.
type Held struct {
	*Session
	id *[16]byte // nil or zero: Session.ID is used as it is
	at time.Time // the Manager's clock when the session was found live
}

// CheckedAt is the Manager's time at which the session was found live, zero
// if unknown (a Held made of a copy). An answer reads the clock once: at a
// million sessions the four reads it made were 3.5 % of the RADIUS core.
func (h Held) CheckedAt() time.Time { return h.at }

// TimeLeft is how long the session had until it ends by lifetime, at
// CheckedAt (Manager.TimeLeft then); 0 if it had passed.
func (h Held) TimeLeft() time.Duration {
	if d := h.Expires.Sub(h.at); d > 0 {
		return d
	}
	return 0
}

// AppendID appends the session's ID to b.
func (h Held) AppendID(b []byte) []byte {
	if h.id != nil && *h.id != ([16]byte{}) {
		return hex.AppendEncode(b, h.id[:])
	}
	return append(b, h.Session.ID...)
}

// place is where an association is: the NAS, its Acct-Session-Id for the
// device, and the AP (Called-Station-Id), as far as they are known.
type place struct {
	nas NAS
	ap  string
}

func placeOf(s Session) place { return place{nas: s.NAS, ap: s.AP} }

// same reports whether a report (NAS, AP) is of the association p: the
// same NAS, and the same AP and Acct-Session-Id where both sides know them.
func (p place) same(nas NAS, ap string) bool {
	return p.nas.Addr == nas.Addr && p.nas.ID == nas.ID &&
		(p.ap == "" || ap == "" || p.ap == ap) &&
		(p.nas.AcctSessionID == "" || nas.AcctSessionID == "" || p.nas.AcctSessionID == nas.AcctSessionID)
}

func (p place) known() bool { return p.nas != (NAS{}) || p.ap != "" }

// index maps session IDs and MAC keys to entries. Readers take one shard's
// read lock (of a shardedMap, or of the sumTable for MAC keys) and never
// wait for each other; writers serialise on mu so that the maps stay
// consistent.
type index struct {
	mu   sync.Mutex
	ids  shardedMap[string, *entry, stringHash[string]]
	macs sumTable
	// Client addresses map to session IDs, not entries, so that replacing
	// an entry never leaves a stale pointer behind; the newest report of an
	// address wins (a DHCP lease moved to another device).
	ips   shardedMap[netip.Addr, string, addrHash]
	v6    shardedMap[netip.Prefix, string, prefixHash] // masked prefixes
	count atomic.Int64
	// nases maps a NAS address to the IDs of the sessions it reported
	// last (Session.NAS.Addr), so that an Accounting-On or -Off touches
	// only that NAS's sessions instead of scanning the index. Only
	// writers use it, under mu; lookups by MAC, ID and address never do.
	nases map[netip.Addr]map[string]struct{}
	// The chunks the entries are slots of (see chunk.go), cur the one new
	// entries go to, sparse those that fell below half live, and
	// sweeping how many drops are under way (they hold compaction back).
	// Only writers use them, under mu.
	chunks   []*entryChunk
	cur      *entryChunk
	sparse   []*entryChunk
	sweeping int
}

// v6Lookups are the prefix lengths tried for an IPv6 client address, for
// NASes that report a delegated Framed-IPv6-Prefix rather than an address.
var v6Lookups = [...]int{64, 56, 48}

func (x *index) byIP(ip netip.Addr) *entry {
	ip = ip.Unmap()
	if v, ok := x.ips.Load(ip); ok {
		if e := x.byID(v); e != nil && e.s.Device.IP == ip {
			return e
		}
	}
	if ip.Is6() {
		for _, bits := range v6Lookups {
			p, _ := ip.Prefix(bits)
			if v, ok := x.v6.Load(p); ok {
				if e := x.byID(v); e != nil && masked(e.s.Device.IPv6Prefix) == p {
					return e
				}
			}
		}
	}
	return nil
}

// reindex moves the address and NAS mappings from old to e (either may be
// nil). It must be called with mu held.
func (x *index) reindex(old, e *entry) {
	x.reindexAddrs(old, e)
	x.reindexNAS(old, e)
}

// reindexNAS moves the session from old's NAS set to e's. It must be called
// with mu held.
func (x *index) reindexNAS(old, e *entry) {
	var was, now netip.Addr
	id := ""
	if old != nil {
		was, id = old.s.NAS.Addr, old.s.ID
	}
	if e != nil {
		now, id = e.s.NAS.Addr, e.s.ID
	}
	if was == now {
		return
	}
	if set := x.nases[was]; was.IsValid() && set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(x.nases, was)
		}
	}
	if now.IsValid() {
		if x.nases == nil {
			x.nases = make(map[netip.Addr]map[string]struct{})
		}
		set := x.nases[now]
		if set == nil {
			set = make(map[string]struct{})
			x.nases[now] = set
		}
		set[id] = struct{}{}
	}
}

// reindexAddrs moves the address mappings from old to e (either may be
// nil). An address is mapped when it changes; a change of anything else
// does not take an address back from a session that claimed it since (the
// newest claim wins: a NAS report, see touch, or a sign-in, see claimAddr).
// It must be called with mu held.
func (x *index) reindexAddrs(old, e *entry) {
	var oldIP, newIP netip.Addr
	var oldP, newP netip.Prefix
	id := ""
	if old != nil {
		oldIP, oldP, id = old.s.Device.IP, masked(old.s.Device.IPv6Prefix), old.s.ID
	}
	if e != nil {
		newIP, newP, id = e.s.Device.IP, masked(e.s.Device.IPv6Prefix), e.s.ID
	}
	// An ended (revoked) session releases its addresses at once: they
	// must not keep answering for a device (issue 11 item 2).
	released := e != nil && e.s.Revoked
	if oldIP.IsValid() && (oldIP != newIP || released) {
		x.ips.CompareAndDelete(oldIP, id)
	}
	if newIP.IsValid() && !released && (old == nil || oldIP != newIP) {
		x.ips.Store(newIP, id)
	}
	if oldP.IsValid() && (oldP != newP || released) {
		x.v6.CompareAndDelete(oldP, id)
	}
	if newP.IsValid() && !released && (old == nil || oldP != newP) {
		x.v6.Store(newP, id)
	}
}

// masked is p.Masked() without its cost for the zero Prefix of a device
// without IPv6: netip makes an error value to find it invalid.
func masked(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return netip.Prefix{}
	}
	return p.Masked()
}

// claimAddrs maps the addresses of e to it, replacing whatever session had
// them: a trusted source has just reported them. mu must be held.
func (x *index) claimAddrs(e *entry) {
	if e.s.Revoked {
		return
	}
	if ip := e.s.Device.IP; ip.IsValid() {
		x.ips.Store(ip, e.s.ID)
	}
	if p := masked(e.s.Device.IPv6Prefix); p.IsValid() {
		x.v6.Store(p, e.s.ID)
	}
}

func (x *index) byID(id string) *entry {
	e, _ := x.ids.Load(id)
	return e
}

func (x *index) byMAC(k MACKey) *entry { return x.bySum(k.sum()) }

func (x *index) bySum(k macSum) *entry {
	e, _ := x.macs.Load(k)
	return e
}

func (x *index) put(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.store(e)
}

// putOwner is put for a new session that takes its MAC over: it returns
// the ID of the session that had the MAC, if another ("" if none).
func (x *index) putOwner(e *entry) (prev string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.s.MACKey != "" {
		if cur := x.byMAC(e.s.MACKey); cur != nil && cur.s.ID != e.s.ID {
			prev = cur.s.ID
		}
	}
	x.store(e)
	return prev
}

// unbind takes MAC key from the session id (see Manager.displace): it keeps
// its ID, token and addresses, and forgets the device's MAC.
func (x *index) unbind(id string, key MACKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.byID(id)
	if old == nil || old.s.MACKey != key {
		return
	}
	x.modifyLocked(id, func(e *entry) bool {
		e.s.MACKey, e.s.RandomMAC = "", false
		e.s.Device.MAC, e.s.Device.HasMAC = MAC{}, false
		return true
	})
	x.macs.CompareAndDelete(key.sum(), old)
}

// claimAddr records that the device of session id signed in again from ip
// (the request's own address, see CreateRequest.ClientIP). Addresses a NAS
// reported are authoritative: they are not replaced, and ip only re-takes
// the index's mapping when it is that address. Otherwise ip becomes the
// session's address, vouched for the current association only if the
// address before it was (AddrCurrent is left as it is: a sign-in does not
// prove that the device is where its access point reported it). It
// returns the session as it is afterwards, and false if it is not there.
func (x *index) claimAddr(id string, ip netip.Addr) (Session, bool) {
	ip = ip.Unmap()
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.modifyLocked(id, func(e *entry) bool {
		if !ip.IsValid() || e.s.Revoked {
			return false
		}
		if e.s.Device.AddrByNAS && e.s.Device.IP != ip {
			return false
		}
		e.s.Device.IP = ip
		return true
	})
	if !ok {
		return Session{}, false
	}
	if ip.IsValid() && e.s.Device.IP == ip && !e.s.Revoked {
		x.ips.Store(ip, id) // the newest claim wins, even when unchanged
	}
	return e.s, true
}

// store puts a copy of tmpl in the index (see adopt). mu must be held.
func (x *index) store(tmpl *entry) {
	e := x.adopt(tmpl)
	old := x.setID(e)
	x.reindex(old, e)
	if e.s.MACKey != "" {
		x.macs.Store(e.s.MACKey.sum(), e)
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
	// Likewise an address that two stored sessions carry (a lease that
	// moved) stays with the one seen last.
	if ip := e.s.Device.IP; ip.IsValid() {
		if v, ok := x.ips.Load(ip); ok {
			if cur := x.byID(v); cur != nil && cur.s.ID != e.s.ID && seenLater(cur.s, e.s) {
				defer x.ips.Store(ip, cur.s.ID)
			}
		}
	}
	if p := masked(e.s.Device.IPv6Prefix); p.IsValid() {
		if v, ok := x.v6.Load(p); ok {
			if cur := x.byID(v); cur != nil && cur.s.ID != e.s.ID && seenLater(cur.s, e.s) {
				defer x.v6.Store(p, cur.s.ID)
			}
		}
	}
	if e.s.MACKey != "" {
		if cur := x.byMAC(e.s.MACKey); cur != nil && cur.s.ID != e.s.ID && seenLater(cur.s, e.s) {
			// e is reachable by ID (and token) only.
			e = x.adopt(e)
			x.setID(e)
			x.reindex(nil, e)
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
	return x.updateLocked(id, f)
}

// updateLocked is update with mu held.
func (x *index) updateLocked(id string, f func(s *Session)) (Session, bool) {
	e, ok := x.modifyLocked(id, func(e *entry) bool { f(&e.s); return true })
	return e.s, ok
}

// modifyLocked replaces the entry of id with a copy that f changed, unless
// f returns false; it keeps the MAC mappings. mu must be held.
func (x *index) modifyLocked(id string, f func(e *entry) bool) (*entry, bool) {
	old := x.byID(id)
	if old == nil {
		return nil, false
	}
	e := x.newEntry(old)
	if !f(e) {
		x.abandon(e)
		return old, true
	}
	e.own()
	x.setID(e)
	x.reindex(old, e)
	if e.s.MACKey != "" {
		if cur := x.byMAC(e.s.MACKey); cur == nil || cur.s.ID == id {
			x.macs.Store(e.s.MACKey.sum(), e)
		}
	}
	return e, true
}

// intern returns the canonical copy of s. The names of networks,
// locations, access points and NASes are few (hundreds) and shared by up
// to a million sessions: one copy each, instead of one allocation per
// session, is less for the GC to mark and keeps the strings the RADIUS hot
// path compares in the CPU's caches. The unique package drops a copy no
// session holds any longer.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// intern replaces s's shared names by their canonical copies (see intern).
func (s *Session) intern() {
	s.Network, s.Location = intern(s.Network), intern(s.Location)
	s.CurrentLocation, s.AP, s.NAS.ID = intern(s.CurrentLocation), intern(s.AP), intern(s.NAS.ID)
}

// report is what a report of activity is to the session.
type report uint8

const (
	reportCurrent report = iota // of the current association
	reportNew                   // a new association: the device is there now
	reportStale                 // of an association the device has left
)

// classifyReport places a report relative to the session's current association
// (Session.NAS, AP) and the one before it.
func classifyReport(e *entry, a Activity) report {
	cur := placeOf(e.s)
	if a.NAS == (NAS{}) && a.AP == "" {
		// A report that names no place (a caller that only knows the
		// location) is about the session as it is.
		return reportCurrent
	}
	if a.Kind != ActivityAccess && e.prev.known() && e.prev.same(a.NAS, a.AP) && !cur.same(a.NAS, a.AP) {
		return reportStale // the association the device left
	}
	switch a.Kind {
	case ActivityAccess:
		// The device was just authenticated there: it is there now.
		if cur.same(a.NAS, a.AP) {
			return reportCurrent
		}
		return reportNew
	case ActivityStart:
		if cur.same(a.NAS, a.AP) {
			return reportCurrent
		}
		if cur.known() && e.since != 0 && a.At.UnixNano() < e.since {
			return reportStale // began before the current association
		}
		return reportNew
	case ActivityInterim:
		if cur.same(a.NAS, a.AP) {
			return reportCurrent
		}
		if !cur.known() {
			// The session is nowhere (new, or its NAS restarted): the
			// association that reports is where it is.
			return reportNew
		}
		return reportStale
	default: // ActivityStop
		if cur.known() && cur.same(a.NAS, a.AP) {
			return reportCurrent
		}
		return reportStale
	}
}

// touch applies activity; roamed says whether it moved the session to
// another location, stale that it was a report of an association the
// device has left, which changes nothing (see ActivityKind).
func (x *index) touch(id string, a Activity) (s Session, roamed, stale, ok bool) {
	a.NAS.ID, a.AP, a.Location = intern(a.NAS.ID), intern(a.AP), intern(a.Location)
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.modifyLocked(id, func(e *entry) bool {
		kind := classifyReport(e, a)
		switch kind {
		case reportStale:
			stale = true
			return false
		case reportNew:
			if left := placeOf(e.s); left.known() {
				e.prev = left
			}
			e.since = a.At.UnixNano()
			if a.NAS != (NAS{}) {
				e.s.NAS = a.NAS
			}
			// The AP is the new association's, even when this report does
			// not name one: the old one would make the association's own
			// later reports look like another's.
			e.s.AP = a.AP
		case reportCurrent:
			if a.NAS != (NAS{}) {
				acct := e.s.NAS.AcctSessionID
				e.s.NAS = a.NAS
				if a.NAS.AcctSessionID == "" {
					e.s.NAS.AcctSessionID = acct // the same association keeps its accounting handle
				}
			}
		}
		s := &e.s
		if kind == reportNew {
			// Addresses known so far belong to the association the device
			// left; they keep answering DNS, but do not vouch for where the
			// device is until the new association's NAS reports them.
			s.Device.AddrCurrent = false
		}
		if a.IP.IsValid() || a.IPv6Prefix.IsValid() {
			// A NAS reported them for this association.
			s.Device.AddrByNAS, s.Device.AddrCurrent = true, true
		}
		if a.Kind != ActivityStop {
			if a.Location != "" && s.CurrentLocation != "" && a.Location != s.CurrentLocation {
				s.Roams++
				roamed = true
			}
			if a.Location != "" {
				s.CurrentLocation = a.Location
			}
			if a.AP != "" {
				s.AP = a.AP
			}
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
		if a.IP.IsValid() {
			s.Device.IP = a.IP.Unmap()
		}
		if a.IPv6Prefix.IsValid() {
			s.Device.IPv6Prefix = a.IPv6Prefix.Masked()
		}
		return true
	})
	if !ok {
		return Session{}, false, false, false
	}
	if !stale && (a.IP.IsValid() || a.IPv6Prefix.IsValid()) {
		x.claimAddrs(e) // the newest report of an address wins
	}
	return e.s, roamed, stale, true
}

// clearPresence forgets where the sessions last reported by the NAS at
// addr are, for those whose NAS match accepts: the NAS restarted
// (Accounting-On/Off), so they are no longer there. It returns the IDs of
// the sessions it changed. It visits only that NAS's sessions.
func (x *index) clearPresence(addr netip.Addr, match func(NAS) bool) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	set := x.nases[addr]
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	changed := ids[:0]
	for _, id := range ids {
		if e := x.byID(id); e == nil || !match(e.s.NAS) {
			continue
		}
		x.updateLocked(id, func(s *Session) {
			s.CurrentLocation, s.AP, s.NAS = "", "", NAS{}
		})
		changed = append(changed, id)
	}
	return changed
}

// revoke marks session id revoked. It returns the session and whether this
// call ended it: false when the index does not hold it or holds it revoked
// already (a retried revocation, or one the store's feed brought first), so
// that a session ends — its event, its Disconnect — once.
func (x *index) revoke(id string) (Session, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ended := false
	e, ok := x.modifyLocked(id, func(e *entry) bool {
		ended = !e.s.Revoked
		e.s.Revoked = true
		return ended
	})
	if !ok || !ended {
		return Session{}, false
	}
	return e.s, true
}

// rebind moves session id to MAC key and returns the ID of the session
// that had that MAC, if another ("" if none).
func (x *index) rebind(id string, old, key MACKey, random bool, mac MAC) (prev string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.byID(id)
	if cur == nil {
		return ""
	}
	if owner := x.byMAC(key); owner != nil && owner.s.ID != id {
		prev = owner.s.ID
	}
	e := &entry{s: cur.s, exp: cur.exp}
	e.s.MACKey, e.s.RandomMAC = key, random
	e.s.Device.MAC, e.s.Device.HasMAC = mac, true
	if old != "" {
		x.macs.CompareAndDelete(old.sum(), cur)
	}
	x.store(e)
	return prev
}

// drop removes the entries for which ended is true, calls dropped (if not
// nil) with each one it removed, and returns how many. ended is called
// without mu, dropped with it held. The range takes mu per entry it
// removes, not for the whole range: at a million sessions a range takes a
// few hundred milliseconds, and every writer — a move, a sign-in — would
// wait for it. An entry that a writer replaced after the range read it is
// left alone: the replacement is newer than what ended was asked about.
// Compaction waits until the range is done (it would replace entries the
// range has yet to ask about), and then frees what the drop left.
func (x *index) drop(ended func(*entry) bool, dropped func(*entry)) int {
	x.mu.Lock()
	x.sweeping++
	x.mu.Unlock()
	n := 0
	x.rangeIDs(func(k string, e *entry) bool {
		if !ended(e) {
			return true
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		if x.byID(k) != e {
			return true
		}
		x.deleteID(e)
		x.reindex(e, nil)
		if e.s.MACKey != "" {
			if cur := x.byMAC(e.s.MACKey); cur != nil && cur.s.ID == e.s.ID {
				x.macs.Delete(e.s.MACKey.sum())
			}
		}
		n++
		if dropped != nil {
			dropped(e)
		}
		return true
	})
	x.mu.Lock()
	x.sweeping--
	x.mu.Unlock()
	x.compactAll()
	return n
}

func (x *index) each(f func(*entry)) {
	x.rangeIDs(func(_ string, e *entry) bool {
		f(e)
		return true
	})
}

// rangePause is how many entries a range visits between two short sleeps
// (0.4–1.2 ms of work). A range over a million sessions — the minute's
// sweep (drop), Stats for the dashboard and for each metrics scrape — is
// 25–80 ms of CPU; with GOMAXPROCS 1 Go's scheduler lets it run until it
// is preempted after 10 ms, and finds the RADIUS readers waiting in the
// network poller only when nothing else is runnable. A goroutine that
// sleeps is parked, so the scheduler polls the network and the answers go
// first. A throw-away test (a 200 µs sleep timed beside the range, one P,
// a million entries) measured its worst lateness at 17–20 ms before and
// 1.4–3.0 ms after; the range takes 90–150 ms instead of 25–80 ms.
const (
	rangePause = 16384
	rangeRest  = 50 * time.Microsecond
)

// rangeIDs is ids.Range, resting every rangePause entries. f is called
// without locks held (see shardedMap.Range), so resting in between holds
// nothing up.
func (x *index) rangeIDs(f func(string, *entry) bool) {
	n := 0
	x.ids.Range(func(k string, e *entry) bool {
		if n++; n%rangePause == 0 {
			time.Sleep(rangeRest)
		}
		return f(k, e)
	})
}

// replace puts e in place of the entry with its ID, moving the MAC mapping
// if the MAC key changed.
func (x *index) replace(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.byID(e.s.ID); old != nil && old.s.MACKey != "" && old.s.MACKey != e.s.MACKey {
		x.macs.CompareAndDelete(old.s.MACKey.sum(), old)
	}
	x.store(e)
}
