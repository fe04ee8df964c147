package session

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// checkChunks asserts the chunks' bookkeeping against the ID map: each
// chunk's live count is the number of its slots the map holds, the counts
// add up to the index's, and the map holds no entry of a forgotten chunk.
func checkChunks(t *testing.T, x *index) {
	t.Helper()
	held := map[*entryChunk]int{}
	x.each(func(e *entry) { held[e.c]++ })
	total := 0
	for i, c := range x.chunks {
		if c.pos != i {
			t.Fatalf("chunk %d says it is at %d", i, c.pos)
		}
		if c.live != held[c] {
			t.Fatalf("chunk %d: live %d, the ID map holds %d of its entries", i, c.live, held[c])
		}
		total += c.live
		delete(held, c)
	}
	if len(held) != 0 {
		t.Fatalf("the ID map holds entries of %d chunks the index forgot", len(held))
	}
	// The sparse chunks are chunks in use: one forgotten there would be
	// memory the collector cannot free.
	for i, c := range x.sparse {
		if c.pos < 0 || x.chunks[c.pos] != c || c.sparseAt != i+1 {
			t.Fatalf("sparse chunk %d: at %d of the chunks, says it is sparse chunk %d", i, c.pos, c.sparseAt-1)
		}
	}
	if n := x.count.Load(); int64(total) != n {
		t.Fatalf("chunks hold %d live entries, count is %d", total, n)
	}
}

// TestChunksCompact moves sessions about at random, as a day of roaming
// does, and checks that every session is still what its moves made it,
// that the bookkeeping holds, and that compaction gives the dead slots the
// moves leave back: the chunks stay within a quarter (and two chunks) of
// the live entries.
func TestChunksCompact(t *testing.T) {
	const n = 20 * chunkEntries
	var x index
	nas := netip.MustParseAddr("10.0.0.1")
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	acct := make([]string, n)
	for i := range n {
		x.put(&entry{s: Session{ID: fmt.Sprintf("%032x", i), MACKey: MACKey(fmt.Sprint("k-", i))}, exp: t0.Add(time.Hour)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 10 * n {
		i := rng.IntN(n)
		acct[i] = fmt.Sprintf("%08x%08x", i, step)
		a := Activity{Kind: ActivityAccess, At: t0.Add(time.Duration(step) * time.Millisecond),
			AP: fmt.Sprintf("ap-%d", step%40), NAS: NAS{Addr: nas, ID: "nas", AcctSessionID: acct[i]}}
		if _, _, _, ok := x.touch(fmt.Sprintf("%032x", i), a); !ok {
			t.Fatalf("session %d not found at step %d", i, step)
		}
		if step%100 == 0 {
			x.compactAll() // as the Manager's background writer does
		}
	}
	x.compactAll()
	checkChunks(t, &x)
	if slots := len(x.chunks) * chunkEntries; slots > n+n/4+2*chunkEntries {
		t.Errorf("%d chunks (%d slots) for %d live entries: the dead slots were not given back", len(x.chunks), slots, n)
	}
	for i := range n {
		id, key := fmt.Sprintf("%032x", i), MACKey(fmt.Sprint("k-", i))
		e := x.byID(id)
		if e == nil || x.byMAC(key) != e {
			t.Fatalf("session %d: by ID %v, by MAC %v", i, e, x.byMAC(key))
		}
		if e.s.MACKey != key || e.s.NAS.AcctSessionID != acct[i] {
			t.Errorf("session %d: MAC key %q, Acct-Session-Id %q; want %q, %q", i, e.s.MACKey, e.s.NAS.AcctSessionID, key, acct[i])
		}
	}
	// Ending most sessions frees their chunks once the drop is done.
	x.drop(func(e *entry) bool { return e.s.ID[31] != '0' }, nil)
	checkChunks(t, &x)
	live := int(x.count.Load())
	if slots := len(x.chunks) * chunkEntries; slots > live+live/4+2*chunkEntries {
		t.Errorf("after the drop: %d slots for %d live entries", slots, live)
	}
}

// TestAbandonedSlot: a change that changes nothing (a stale report, a
// repeated revocation) gives its slot back and leaves the entry as it was.
func TestAbandonedSlot(t *testing.T) {
	var x index
	x.put(&entry{s: Session{ID: "a", MACKey: "k"}})
	before := x.byID("a")
	used := x.cur.used
	if _, ended := x.revoke("a"); !ended {
		t.Fatal("first revocation did not end the session")
	}
	if _, ended := x.revoke("a"); ended {
		t.Fatal("second revocation ended it again")
	}
	if x.cur.used != used+1 {
		t.Errorf("%d slots used after one change and one no-op, want %d", x.cur.used, used+1)
	}
	if before.s.Revoked || !x.byID("a").s.Revoked {
		t.Error("the change was not a new entry, or was lost")
	}
	checkChunks(t, &x)
}

// TestIndexHeapObjects: the index is about one heap object per session
// (its ID string), not one for each of its strings and its previous
// association: the number of objects is what one garbage collection marks
// (see chunk.go, BenchmarkIndexGC).
func TestIndexHeapObjects(t *testing.T) {
	const n = 20_000
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var x index
	nas := netip.MustParseAddr("10.0.0.1")
	for i := range n {
		id := fmt.Sprintf("%032x", i)
		x.put(&entry{s: Session{ID: id, MACKey: MACKey(fmt.Sprint("k-", i))}})
		for step := range 2 {
			x.touch(id, Activity{AP: fmt.Sprintf("ap-%d", step), NAS: NAS{Addr: nas, ID: "nas", AcctSessionID: fmt.Sprintf("%08x%08x", i, step)}})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	runtime.KeepAlive(&x)
	if perSession := float64(ms1.HeapObjects-ms0.HeapObjects) / n; perSession > 1.5 {
		t.Errorf("%.2f heap objects per session, want about 1", perSession)
	}
}

// TestIndexMemoryAfterMoves: after every session moved, several times, in
// random order (a day of roaming), the index takes about the memory it
// took when they signed in: the slots the moves left dead are freed.
func TestIndexMemoryAfterMoves(t *testing.T) {
	const n = 40 * chunkEntries
	var x index
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	nas := netip.MustParseAddr("10.0.0.1")
	for i := range n {
		x.put(&entry{s: Session{ID: fmt.Sprintf("%032x", i), MACKey: MACKey(fmt.Sprint("k-", i))}})
	}
	signedIn := heap() - before
	rng := rand.New(rand.NewPCG(3, 4))
	for step := range 6 * n {
		i := rng.IntN(n)
		x.touch(fmt.Sprintf("%032x", i), Activity{AP: fmt.Sprintf("ap-%d", step%40), NAS: NAS{Addr: nas, ID: "nas", AcctSessionID: fmt.Sprintf("%08x%08x", i, step)}})
		if step%100 == 0 {
			x.compactAll()
		}
	}
	x.compactAll()
	checkChunks(t, &x)
	moved := heap() - before
	runtime.KeepAlive(&x)
	t.Logf("the index took %d KiB after the sign-ins and %d KiB after the moves", signedIn>>10, moved>>10)
	if moved > signedIn*3/2 {
		t.Errorf("the index took %d KiB after the sign-ins and %d KiB after the moves: the dead slots stay", signedIn>>10, moved>>10)
	}
}

// TestChunksReadersDuringMoves reads entries without a lock, as RADIUS does,
// while a writer moves the sessions about, ends some and signs them in again
// and compacts now and then: every entry a reader finds is
// whole — its MAC key and Acct-Session-Id are those of its own session —
// which it would not be if a slot were written after it was published.
// Under -race (make test) this also checks the slots' publication.
func TestChunksReadersDuringMoves(t *testing.T) {
	const n = 8 * chunkEntries
	var x index
	nas := netip.MustParseAddr("10.0.0.1")
	id := func(i int) string { return fmt.Sprintf("%032x", i) }
	key := func(i int) MACKey { return MACKey(fmt.Sprint("k-", i)) }
	for i := range n {
		x.put(&entry{s: Session{ID: id(i), MACKey: key(i), NAS: NAS{AcctSessionID: fmt.Sprintf("%d/0", i)}}})
	}
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for r := range 2 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for reads := 0; ; reads++ {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				i := rng.IntN(n)
				e := x.byMAC(key(i))
				if e == nil {
					e = x.byID(id(i))
				}
				if e == nil {
					continue // ended, not yet signed in again
				}
				var owner, step int
				if _, err := fmt.Sscanf(e.s.NAS.AcctSessionID, "%d/%d", &owner, &step); err != nil || e.s.ID != id(i) || e.s.MACKey != key(i) || owner != i {
					errs <- fmt.Errorf("read %d: looking for session %d found ID %s, MAC key %q, Acct-Session-Id %q", reads, i, e.s.ID, e.s.MACKey, e.s.NAS.AcctSessionID)
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for step := 1; step <= 20*n; step++ {
		i := rng.IntN(n)
		switch {
		case step%1000 == 0:
			// End a tenth of the sessions and sign them in again.
			x.drop(func(e *entry) bool { return e.s.ID[31] == byte('0'+step/1000%10) }, nil)
			for j := range n {
				if x.byID(id(j)) == nil {
					x.put(&entry{s: Session{ID: id(j), MACKey: key(j), NAS: NAS{AcctSessionID: fmt.Sprintf("%d/%d", j, step)}}})
				}
			}
		case step%100 == 0:
			x.compactAll() // as the Manager's background writer does
		default:
			x.touch(id(i), Activity{AP: fmt.Sprintf("ap-%d", step%40), NAS: NAS{Addr: nas, ID: "nas", AcctSessionID: fmt.Sprintf("%d/%d", i, step)}})
		}
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	checkChunks(t, &x)
}

// TestManagerCompactsIndex: the Manager's background writer, woken by the
// moves it writes, gives the dead slots back — not the RADIUS request
// that made the move.
func TestManagerCompactsIndex(t *testing.T) {
	const n = 20 * chunkEntries
	m, macs := benchManager(t, n)
	nas := netip.MustParseAddr("10.0.0.1")
	rng := rand.New(rand.NewPCG(7, 8))
	for step := range 6 * n {
		i := rng.IntN(n)
		id := m.index.bySum(m.hasher.sum(macs[i])).s.ID
		if _, err := m.Seen(id, Activity{Location: fmt.Sprint("loc-", step%7), AP: fmt.Sprintf("ap-%d", step%40),
			NAS: NAS{Addr: nas, ID: "nas", AcctSessionID: fmt.Sprintf("%d/%d", i, step)}}); err != nil {
			t.Fatal(err)
		}
	}
	wasteful := func() bool {
		m.index.mu.Lock()
		defer m.index.mu.Unlock()
		return m.index.wasteful()
	}
	for deadline := time.Now().Add(10 * time.Second); wasteful(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			m.index.mu.Lock()
			chunks := len(m.index.chunks)
			m.index.mu.Unlock()
			t.Fatalf("%d chunks for %d live entries 10 s after the moves: the background writer did not compact", chunks, n)
		}
	}
	checkChunks(t, &m.index)
}
