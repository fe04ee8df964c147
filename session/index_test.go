package session

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestIndexLoadPicksLastSeen loads sessions sharing a MAC key in every order:
// the MAC always goes to the same one, and every session stays reachable by ID.
func TestIndexLoadPicksLastSeen(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	mk := func(id string, created, seen time.Duration) *entry {
		s := Session{ID: id, MACKey: "k", Created: t0.Add(created), LastSeen: t0.Add(seen)}
		return &entry{s: s, exp: t0.Add(time.Hour)}
	}
	tests := []struct {
		name    string
		entries []*entry
		want    string
	}{
		{"seen last wins", []*entry{mk("a", 0, 50*time.Minute), mk("b", 40*time.Minute, 41*time.Minute)}, "a"},
		{"same last seen: created last wins", []*entry{mk("a", 0, time.Minute), mk("b", 30*time.Second, time.Minute)}, "b"},
		{"full tie: larger ID wins", []*entry{mk("a", 0, time.Minute), mk("b", 0, time.Minute)}, "b"},
		{"three", []*entry{mk("a", 0, 3*time.Minute), mk("b", time.Minute, time.Minute), mk("c", 2*time.Minute, 2*time.Minute)}, "a"},
	}
	for _, tt := range tests {
		for _, order := range permutations(len(tt.entries)) {
			t.Run(fmt.Sprintf("%s/%v", tt.name, order), func(t *testing.T) {
				var x index
				for _, i := range order {
					x.load(tt.entries[i])
				}
				if got := x.byMAC("k"); got == nil || got.s.ID != tt.want {
					t.Errorf("byMAC = %v, want %s", got, tt.want)
				}
				// The index holds copies of what it is given.
				for _, e := range tt.entries {
					if got := x.byID(e.s.ID); got == nil || got == e || got.s != e.s {
						t.Errorf("byID(%s) = %v, want a copy of %v", e.s.ID, got, e)
					}
				}
				if got := x.count.Load(); got != int64(len(tt.entries)) {
					t.Errorf("count = %d, want %d", got, len(tt.entries))
				}
				// Dropping a loser keeps the winner's MAC.
				x.drop(func(e *entry) bool { return e.s.ID != tt.want }, nil)
				if got := x.byMAC("k"); got == nil || got.s.ID != tt.want {
					t.Errorf("after dropping the others, byMAC = %v, want %s", got, tt.want)
				}
			})
		}
	}
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestIndexNASSet: an Accounting-On looks only at the sessions its NAS
// reported last, and the per-NAS sets follow every move, re-load, drop and
// replacement of an entry.
func TestIndexNASSet(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	var x index
	for i := range 30 {
		s := Session{ID: fmt.Sprintf("%032x", i), Created: t0, LastSeen: t0}
		switch i % 3 {
		case 0:
			s.NAS = NAS{Addr: a, ID: "ap-a"}
		case 1:
			s.NAS = NAS{Addr: b, ID: "ap-b"}
		}
		x.put(&entry{s: s, exp: t0.Add(time.Hour)})
	}
	visited := 0
	count := func(n NAS) bool { visited++; return true }
	if got := x.clearPresence(a, count); len(got) != 10 || visited != 10 {
		t.Fatalf("Accounting-On from a changed %d sessions after looking at %d; want 10 and 10", len(got), visited)
	}
	if got := x.clearPresence(a, count); len(got) != 0 {
		t.Fatalf("a second Accounting-On changed %d sessions", len(got))
	}
	// Session 1 moves from b to a; 4 is dropped; 7 is replaced at b.
	x.update(fmt.Sprintf("%032x", 1), func(s *Session) { s.NAS = NAS{Addr: a, ID: "ap-a"} })
	x.drop(func(e *entry) bool { return e.s.ID == fmt.Sprintf("%032x", 4) }, nil)
	x.replace(&entry{s: Session{ID: fmt.Sprintf("%032x", 7), NAS: NAS{Addr: b, ID: "ap-b"}}, exp: t0.Add(time.Hour)})
	onlyID := func(id string) func(NAS) bool { return func(n NAS) bool { return n.ID == id } }
	if got := x.clearPresence(a, onlyID("ap-a")); len(got) != 1 || got[0] != fmt.Sprintf("%032x", 1) {
		t.Errorf("Accounting-On from a after the move changed %v, want session 1", got)
	}
	if got := x.clearPresence(b, onlyID("other")); len(got) != 0 {
		t.Errorf("an Accounting-On with another NAS-Identifier changed %v", got)
	}
	if got := x.clearPresence(b, onlyID("ap-b")); len(got) != 8 {
		t.Errorf("Accounting-On from b changed %d sessions, want 8 (10, less the one that moved and the dropped one)", len(got))
	}
	if n := x.nasSessions(); n != 0 {
		t.Errorf("%d sessions left in NAS sets after every presence was cleared", n)
	}
}

// nasSessions counts the entries of the NAS sets.
func (x *index) nasSessions() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, set := range x.nases {
		n += len(set)
	}
	return n
}

// TestDropLetsWritersIn: drop's range (the sweep's, once a minute over
// every session) does not hold the index's writers back — a writer that
// replaces an entry while the range is under way gets in, as a move or a
// sign-in must — and an entry replaced after the range read it is not
// dropped: its replacement is newer than what the range asked about.
func TestDropLetsWritersIn(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	var x index
	const n = 100
	for i := range n {
		x.load(&entry{s: Session{ID: fmt.Sprintf("%032x", i), MACKey: MACKey(fmt.Sprint("k", i)), LastSeen: t0}, exp: t0.Add(time.Hour)})
	}
	target := fmt.Sprintf("%032x", 7)
	fresh := &entry{s: Session{ID: target, MACKey: "k7", LastSeen: t0.Add(time.Minute)}, exp: t0.Add(time.Hour)}
	var dropped []string
	done := make(chan int, 1)
	go func() {
		done <- x.drop(func(e *entry) bool {
			if e.s.ID == target && e.s != fresh.s {
				x.replace(fresh) // a writer in the middle of the range
			}
			return e.s.LastSeen.Equal(t0) // not seen since t0: ended
		}, func(e *entry) { dropped = append(dropped, e.s.ID) })
	}()
	select {
	case got := <-done:
		if got != n-1 || len(dropped) != n-1 {
			t.Errorf("drop removed %d and reported %d entries, want %d", got, len(dropped), n-1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a writer could not replace an entry while drop ranged: drop holds the writers' lock for its whole range")
	}
	if e := x.byID(target); e == nil || e.s != fresh.s || x.byMAC("k7") != e {
		t.Error("the entry replaced during the range was dropped")
	}
	for _, id := range dropped {
		if id == target {
			t.Error("drop reported the replaced entry as dropped")
		}
	}
	if c := x.count.Load(); c != 1 {
		t.Errorf("count = %d after the drop, want 1", c)
	}
}

// TestHeldAppendID: the ID an Access-Accept carries is the session's own,
// from the octets the index decoded when the ID is what newID makes, from
// the string as it is otherwise (IDs only tests make) — never a
// re-encoding that differs from it.
func TestHeldAppendID(t *testing.T) {
	made, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{made, "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF",
		"s-1", "zz23456789abcdef0123456789abcdef", "00000000000000000000000000000000"} {
		var x index
		x.put(&entry{s: Session{ID: id, MACKey: MACKey("k-" + id)}})
		e := x.bySum(MACKey("k-" + id).sum())
		if e == nil {
			t.Fatalf("%s: not in the index", id)
		}
		decoded := e.id != [16]byte{}
		if want := id == made || id == "0123456789abcdef0123456789abcdef"; decoded != want {
			t.Errorf("%s: decoded %v, want %v", id, decoded, want)
		}
		if got := string(Held{Session: &e.s, id: &e.id}.AppendID([]byte("x"))); got != "x"+id {
			t.Errorf("AppendID wrote %q, want %q", got, "x"+id)
		}
		// A change of the session keeps the octets with it.
		x.update(id, func(s *Session) { s.CurrentLocation = "stadtpark" })
		if e2 := x.bySum(MACKey("k-" + id).sum()); e2 == e || e2.id != e.id {
			t.Errorf("%s: the replaced entry's octets %x, were %x", id, e2.id, e.id)
		}
	}
}

// TestRangeRestsAndVisitsAll: a range over more entries than it visits
// between two rests sees each entry once, and stops when told to.
func TestRangeRestsAndVisitsAll(t *testing.T) {
	var x index
	const n = 3*rangePause + 7
	for i := range n {
		x.put(&entry{s: Session{ID: fmt.Sprintf("%032x", i)}})
	}
	seen := map[string]int{}
	x.each(func(e *entry) { seen[e.s.ID]++ })
	if len(seen) != n {
		t.Fatalf("each saw %d entries of %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("each saw %s %d times", id, c)
		}
	}
	visited := 0
	x.rangeIDs(func(string, *entry) bool { visited++; return visited < rangePause+1 })
	if visited != rangePause+1 {
		t.Fatalf("the range went on to %d entries after being told to stop at %d", visited, rangePause+1)
	}
	// Half the last hex digits are even characters ('0', '2', … 'b', 'd', 'f').
	ended := func(e *entry) bool { return e.s.ID[31]%2 == 0 }
	want := 0
	x.each(func(e *entry) {
		if ended(e) {
			want++
		}
	})
	if got := x.drop(ended, nil); got != want || want < n/3 {
		t.Fatalf("drop removed %d of %d, want %d", got, n, want)
	}
	if live := int(x.count.Load()); live != n-want {
		t.Fatalf("%d live after the drop, want %d", live, n-want)
	}
	x.each(func(e *entry) {
		if ended(e) {
			t.Fatalf("%s is still there", e.s.ID)
		}
	})
}
