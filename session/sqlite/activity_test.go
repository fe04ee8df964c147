package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
)

// newID is a session ID (storetest's would be an import cycle here).
func newID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func openInternal(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storeWithSession opens a store in a temporary directory, closed when
// the test ends, with one session created now.
func storeWithSession(t *testing.T) (*Store, session.Record, time.Time) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	t.Cleanup(func() { s.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := record(t, now)
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return s, r, now
}

func record(t testing.TB, now time.Time) session.Record {
	return session.Record{
		Session: session.Session{ID: newID(t), MACKey: session.MACKey(newID(t)),
			Network: "wifi4eu", Location: "bahnhof", CurrentLocation: "bahnhof", AP: "ap-0",
			Created: now, Expires: now.Add(24 * time.Hour), LastSeen: now, InputOctets: 7, OutputOctets: 9},
		SealedToken: []byte("token"), SealedDevice: []byte("device-0"),
	}
}

// everything is what readers see: Get of each ID and Live.
func everything(t *testing.T, s *Store, ids []string, now time.Time) map[string]session.Record {
	t.Helper()
	got := map[string]session.Record{}
	for _, id := range ids {
		r, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		got[id] = r
	}
	n := 0
	if err := s.Live(context.Background(), now, func(r session.Record) error {
		n++
		if !reflect.DeepEqual(r, got[r.ID]) {
			t.Errorf("Live has %+v, Get %+v", r, got[r.ID])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(ids) {
		t.Errorf("Live saw %d sessions, want %d", n, len(ids))
	}
	return got
}

func sameRecords(t *testing.T, when string, got, want map[string]session.Record) {
	t.Helper()
	for id, w := range want {
		if g := got[id]; !reflect.DeepEqual(g, w) {
			t.Fatalf("%s readers see\n%+v\nwant\n%+v", when, g, w)
		}
	}
}

func logRows(t testing.TB, s *Store) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM activity`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFoldChangesNothingReadersSee touches sessions many times over (octets
// and device sometimes left as they are, an empty device, no NAS address),
// then folds the log in two steps as a crash could leave it (the first chunk
// applied, the log still there), and again: readers see the same records
// before, between and after, and the sessions rows hold them.
func TestFoldChangesNothingReadersSee(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var ids []string
	// model is what the touches leave, by Store.Touch's rules.
	model := map[string]session.Record{}
	for range 40 {
		r := record(t, now)
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		model[r.ID] = r
	}
	touch := func(id string, a session.Activity, roams int, device []byte) {
		r := model[id]
		r.CurrentLocation, r.AP, r.LastSeen, r.Roams, r.NAS = a.Location, a.AP, a.At, roams, a.NAS
		if a.InputOctets != 0 {
			r.InputOctets = a.InputOctets
		}
		if a.OutputOctets != 0 {
			r.OutputOctets = a.OutputOctets
		}
		if device != nil {
			r.SealedDevice = device
			if len(device) == 0 {
				r.SealedDevice = nil
			}
		}
		model[id] = r
	}
	for round := range 7 {
		var touches []session.Touch
		for i, id := range ids[:len(ids)-round*3] {
			a := session.Activity{At: now.Add(time.Duration(round*100+i) * time.Second),
				Location: fmt.Sprint("loc", round%3), AP: fmt.Sprint("ap-", round, "-", i),
				NAS: session.NAS{ID: fmt.Sprint("nas-", round), AcctSessionID: fmt.Sprint(round*1000 + i)}}
			if (i+round)%2 == 0 {
				a.InputOctets, a.OutputOctets = uint64(round*10+i), uint64(round*20+i)
			}
			if round%2 == 1 {
				a.NAS.Addr = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
			}
			var device []byte
			switch (i + round) % 3 {
			case 0:
				device = fmt.Appendf(nil, "device-%d-%d", round, i)
			case 1:
				if round == 5 {
					device = []byte{}
				}
			}
			touch(id, a, round, device)
			if round == 3 {
				if err := s.Touch(ctx, id, a, round, device); err != nil {
					t.Fatal(err)
				}
				continue
			}
			touches = append(touches, session.Touch{ID: id, Activity: a, Roams: round, SealedDevice: device})
		}
		errs := make([]error, len(touches))
		s.TouchMany(ctx, touches, errs)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := logRows(t, s); n < 200 {
		t.Fatalf("%d rows in the activity log, want every touch", n)
	}
	before := everything(t, s, ids, now)
	sameRecords(t, "before the fold", before, model)
	if r := before[ids[0]]; r.CurrentLocation != "loc0" || r.AP != "ap-6-0" || r.Roams != 6 {
		t.Fatalf("the last touch is not what Get sees: %+v", r)
	}

	// A fold cut off after two of its four chunks: their sessions rows
	// updated, the log all there.
	var last int64
	if err := s.r.QueryRow(`SELECT max(seq) FROM activity`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	logged := logRows(t, s)
	chunks, err := s.foldPlan(ctx, 1, last, len(ids)/4, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 4 {
		t.Fatalf("%d chunks for %d sessions, %d a chunk", len(chunks), len(ids), len(ids)/4)
	}
	for _, c := range chunks {
		var plan [][4]int64
		if err := json.Unmarshal(c, &plan); err != nil {
			t.Fatal(err)
		}
		if len(plan) != len(ids)/4 {
			t.Fatalf("a chunk of %d sessions, want %d", len(plan), len(ids)/4)
		}
	}
	for _, c := range chunks[:2] {
		if err := s.foldApply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := logRows(t, s); n != logged {
		t.Fatalf("%d rows in the log after two chunks, want %d", n, logged)
	}
	var changed int
	if err := s.r.QueryRow(`SELECT count(*) FROM current_sessions WHERE roams = 6`).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if changed == 0 || changed >= 22 {
		// 22 sessions were touched in the last round (roams 6).
		t.Fatalf("%d sessions rows hold their last touch after half a fold, want some but not all", changed)
	}
	sameRecords(t, "after half a fold", everything(t, s, ids, now), before)
	// … or cut off while it removed the log, oldest first.
	for _, c := range chunks[2:] {
		if err := s.foldApply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.Exec(`DELETE FROM activity WHERE seq <= ?`, last/2); err != nil {
		t.Fatal(err)
	}
	if n := logRows(t, s); n == 0 || n == logged {
		t.Fatalf("%d rows in the log after half of it went, from %d", n, logged)
	}
	sameRecords(t, "after half the log went", everything(t, s, ids, now), before)
	// More touches, every other one with octets and a device, folded in
	// rounds of seven touches and then at once.
	var touches []session.Touch
	for i, id := range ids {
		a := session.Activity{At: now.Add(time.Hour + time.Duration(i)*time.Second), Location: "loc9", AP: fmt.Sprint("ap-9-", i)}
		var device []byte
		if i%2 == 0 {
			a.InputOctets, a.OutputOctets = uint64(900+i), uint64(950+i)
			device = fmt.Appendf(nil, "device-9-%d", i)
		}
		touch(id, a, 9, device)
		touches = append(touches, session.Touch{ID: id, Activity: a, Roams: 9, SealedDevice: device})
	}
	errs := make([]error, len(touches))
	s.TouchMany(ctx, touches, errs)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	before = everything(t, s, ids, now)
	sameRecords(t, "after more touches", before, model)
	for _, window := range []int64{7, foldWindow} {
		if err := s.foldBy(ctx, false, window); err != nil {
			t.Fatal(err)
		}
		if n := logRows(t, s); n != 0 {
			t.Fatalf("%d rows in the log after a fold", n)
		}
		sameRecords(t, "after the fold", everything(t, s, ids, now), before)
	}
}

// TestFoldNeverAppliesToAnotherSession: the log names a session by rowid
// and ID; sessions that took deleted ones' rowids over keep their own
// values: one that moved since (its octets and device are its own, not
// the old session's, folded before it ended), one that did not (the old
// session's activity still in the log).
func TestFoldNeverAppliesToAnotherSession(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var olds, freshes []session.Record
	var oldSids []int64
	for i := range 2 {
		old := record(t, now)
		if err := s.Create(ctx, old); err != nil {
			t.Fatal(err)
		}
		var sid int64
		if err := s.r.QueryRow(`SELECT rowid FROM sessions WHERE id = ?`, old.ID).Scan(&sid); err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, old.ID, session.Activity{At: now, Location: "elsewhere", AP: "ap-x", InputOctets: 1, OutputOctets: 2},
			3, []byte("old device")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The first one's activity is folded (a row in presence that
			// its end must take with it), the second's is still in the log.
			if err := s.fold(ctx, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Revoke(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		olds, oldSids = append(olds, old), append(oldSids, sid)
	}
	if n, err := s.DeleteEnded(ctx, now); err != nil || n != 2 {
		t.Fatalf("DeleteEnded = %d, %v", n, err)
	}
	for i := range olds {
		fresh := record(t, now)
		if err := s.Create(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		var freshSid int64
		if err := s.r.QueryRow(`SELECT rowid FROM sessions WHERE id = ?`, fresh.ID).Scan(&freshSid); err != nil {
			t.Fatal(err)
		}
		if oldSids[i] != freshSid {
			t.Fatalf("rowid %d not taken over (%d): the test proves nothing", oldSids[i], freshSid)
		}
		freshes = append(freshes, fresh)
	}
	if n := logRows(t, s); n != 1 {
		t.Fatalf("%d rows in the log, want the second old session's: the test proves nothing", n)
	}
	moved := freshes[0]
	if err := s.Touch(ctx, moved.ID, session.Activity{At: now, Location: "rathaus", AP: "ap-y"}, 1, nil); err != nil {
		t.Fatal(err)
	}
	moved.CurrentLocation, moved.AP, moved.Roams = "rathaus", "ap-y", 1
	if err := s.fold(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []session.Record{moved, freshes[1]} {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.CurrentLocation != want.CurrentLocation || got.AP != want.AP || got.Roams != want.Roams ||
			got.InputOctets != want.InputOctets || got.OutputOctets != want.OutputOctets ||
			string(got.SealedDevice) != string(want.SealedDevice) {
			t.Fatalf("a new session got an old one's activity: %+v", got)
		}
	}
	if n := logRows(t, s); n != 0 {
		t.Fatalf("%d rows left in the log", n)
	}
}

// TestCloseFolds: after Close the file holds every session as it is, with
// no log left (for a backup or the sqlite3 shell).
func TestCloseFolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openInternal(t, path)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := record(t, now)
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, r.ID, session.Activity{At: now.Add(time.Minute), Location: "stadtpark", AP: "ap-9"}, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var loc string
	var n int
	if err := db.QueryRow(`SELECT current_location, (SELECT count(*) FROM activity) FROM current_sessions WHERE id = ?`, r.ID).Scan(&loc, &n); err != nil {
		t.Fatal(err)
	}
	if loc != "stadtpark" || n != 0 {
		t.Fatalf("after Close: current_location %q, %d log rows", loc, n)
	}
}

// stopFolder ends s's folder (its timer, and the start at foldRows), so
// that only the test folds; Close still folds what is left.
func stopFolder(s *Store) {
	close(s.foldStop)
	<-s.foldDone
	s.foldStop = make(chan struct{}) // for Close, which waits on foldDone, closed
}

// BenchmarkFold is the fold alone: 100 000 sessions, one log of 65 535
// touches, or of just under foldRows (the most the folder lets it grow
// to), of sessions picked at random, as Access-Requests of moving
// devices leave them (no octets; the device sealed again, as the Manager
// does with every touch), then one fold. ns/op is a whole fold; ns/touch
// per touch folded, cpu-ns/touch the process's CPU time per touch folded,
// written-B/touch the bytes its write system calls took per touch (the
// WAL's frames, the checkpoints).
func BenchmarkFold(b *testing.B) {
	for _, touches := range []int{1<<16 - 1, foldRows - 1} {
		b.Run(fmt.Sprint("log=", touches), func(b *testing.B) { benchmarkFold(b, touches, false) })
	}
}

// BenchmarkFoldPaced is the fold as the folder runs it (with its rests)
// with one P, as make bench-radius runs roamgate, beside a goroutine that
// sleeps 100 µs at a time: late-max-µs and late-p99-µs are how much later
// than asked it woke, the longest and the 99th percentile. That is how
// long the fold held the only P without a rest, the time a RADIUS answer
// waited behind it.
func BenchmarkFoldPaced(b *testing.B) {
	b.Run(fmt.Sprint("log=", 1<<16-1), func(b *testing.B) { benchmarkFold(b, 1<<16-1, true) })
}

func benchmarkFold(b *testing.B, touches int, paced bool) {
	const sessions = 100_000
	s := openInternal(b, filepath.Join(b.TempDir(), "sessions.db"))
	defer s.Close()
	stopFolder(s) // its timer would take part of a log the benchmark folds
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := make([]string, sessions)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < sessions; i += 64 {
				r := record(b, now)
				r.SealedToken = make([]byte, 300) // as long as a sealed token
				// A sign-in stores the sealed device: the fold rewrites it
				// in place (rows that grew with it split pages, and SQLite's
				// sorting of the split pages' numbers made every commit scan
				// the writer's whole page cache: a fifth of the fold's CPU
				// here that make bench-radius does not see).
				r.SealedDevice = make([]byte, 76)
				ids[i] = r.ID
				if err := s.Create(ctx, r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	batch := make([]session.Touch, 1000)
	errs := make([]error, len(batch))
	// The Manager seals the device again with every touch (its last seen
	// time is in it): 76 bytes with AES-GCM's nonce and tag.
	device := bytes.Repeat([]byte{1}, 76)
	at := now
	var folded, cpu time.Duration
	var lateMax, lateP99 time.Duration // paced: the sleeper's, the worst round's
	var written int64                  // bytes the fold wrote; -1 where not counted
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for left := touches; left > 0; {
			n := min(left, len(batch))
			for j := range batch[:n] {
				at = at.Add(time.Microsecond)
				batch[j] = session.Touch{ID: ids[rng.IntN(sessions)], Roams: i + j, SealedDevice: device,
					Activity: session.Activity{At: at, Location: fmt.Sprint("loc", j%50), AP: "02-AA-00-00-01-07",
						NAS: session.NAS{ID: "loc001-ap07", Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(j)})}}}
			}
			s.TouchMany(ctx, batch[:n], errs[:n])
			for _, err := range errs[:n] {
				if err != nil {
					b.Fatal(err)
				}
			}
			left -= n
		}
		if n := logRows(b, s); n != touches {
			// Something folded part of the log: this round would price a
			// smaller fold.
			b.Fatalf("%d rows in the log before the fold, want %d", n, touches)
		}
		var late []time.Duration
		stopSleeper := func() {}
		if paced {
			prev := runtime.GOMAXPROCS(1)
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					t := time.Now()
					time.Sleep(100 * time.Microsecond)
					late = append(late, time.Since(t)-100*time.Microsecond)
				}
			}()
			stopSleeper = func() { close(stop); <-done; runtime.GOMAXPROCS(prev) }
		}
		b.StartTimer()
		start, startCPU := time.Now(), testtool.ProcessCPU(b)
		startWritten, counted := testtool.ProcessWritten(b)
		if err := s.fold(ctx, paced); err != nil {
			b.Fatal(err)
		}
		folded += time.Since(start)
		stopSleeper()
		if paced {
			slices.Sort(late)
			lateMax = max(lateMax, late[len(late)-1])
			lateP99 = max(lateP99, late[len(late)*99/100])
		}
		cpu += testtool.ProcessCPU(b) - startCPU
		if now, _ := testtool.ProcessWritten(b); counted {
			written += now - startWritten
		} else {
			written = -1
		}
	}
	// The CPU time is what the fold takes from the RADIUS answers; the
	// wall time includes the rests between its turns (testtool.ProcessCPU).
	b.ReportMetric(float64(folded.Nanoseconds())/float64(b.N*touches), "ns/touch")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*touches), "cpu-ns/touch")
	if written >= 0 {
		// Unlike the CPU time on a shared VM, the same in every run: the
		// WAL frames and checkpoints of the pages the fold rewrote.
		b.ReportMetric(float64(written)/float64(b.N*touches), "written-B/touch")
	}
	if paced {
		b.ReportMetric(float64(lateMax.Microseconds()), "late-max-µs")
		b.ReportMetric(float64(lateP99.Microseconds()), "late-p99-µs")
	}
	if n := logRows(b, s); n != 0 {
		b.Fatalf("%d rows left in the log", n)
	}
}

// TestActivityLogCountsWhatNoFoldApplied: the gauge behind
// roamgate_session_store_activity_unfolded counts the touches in the log
// until a fold has applied them, not until one begins.
func TestActivityLogCountsWhatNoFoldApplied(t *testing.T) {
	s, r, now := storeWithSession(t)
	ctx := context.Background()
	for i := range 3 {
		if err := s.Touch(ctx, r.ID, session.Activity{At: now.Add(time.Duration(i) * time.Second), Location: "rathaus"}, i, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.ActivityLog(); n != 3 {
		t.Fatalf("ActivityLog = %d before a fold, want 3", n)
	}
	if err := s.fold(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ActivityLog(); n != 0 || logRows(t, s) != 0 {
		t.Fatalf("ActivityLog = %d, %d rows in the log after a fold, want 0", n, logRows(t, s))
	}
}

// TestTouchManyKeepsBytesAndOrder: TouchMany keeps every byte of what it
// is given (NAS-Identifier and Acct-Session-Id come from access points: not
// always UTF-8, quotes and control characters included), and of two
// touches of one session in one call the later is what readers and the
// fold see. (It guarded a variant that appended a group commit's touches
// as one JSON array in one INSERT … SELECT FROM json_each: 20–50 % more
// CPU per touch than the prepared statement per touch, so not landed.)
func TestTouchManyKeepsBytesAndOrder(t *testing.T) {
	s, r, now := storeWithSession(t)
	ctx := context.Background()
	odd := "\xff\xfe\"\\\x00\n\u00e4]},"
	first := session.Touch{ID: r.ID, Roams: 1, SealedDevice: []byte("first"),
		Activity: session.Activity{At: now.Add(time.Second), Location: "bahnhof", AP: "ap-1", InputOctets: 5}}
	second := session.Touch{ID: r.ID, Roams: 2, SealedDevice: []byte(odd),
		Activity: session.Activity{At: now.Add(2 * time.Second), Location: "stadtpark" + odd, AP: odd,
			OutputOctets: 1 << 63, NAS: session.NAS{ID: odd, AcctSessionID: odd, Addr: netip.MustParseAddr("2001:db8::1")}}}
	errs := make([]error, 2)
	s.TouchMany(ctx, []session.Touch{first, second}, errs)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	want := r
	want.CurrentLocation, want.AP, want.LastSeen, want.Roams, want.NAS = second.Activity.Location, odd, second.Activity.At, 2, second.Activity.NAS
	want.InputOctets, want.OutputOctets, want.SealedDevice = 5, 1<<63, []byte(odd)
	for _, when := range []string{"before the fold", "after the fold"} {
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", when, got, want)
		}
		if err := s.fold(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFoldLeavesWritesFull: the fold commits with synchronous=NORMAL; the
// sign-ins and touches after it must still be fsynced before they are
// acknowledged: FULL (2) without a syncer, the writer's NORMAL (1) and the
// syncer's fsync with one (TestSyncerSyncsEveryDurableWrite).
func TestFoldLeavesWritesFull(t *testing.T) {
	for _, withSyncer := range []bool{false, true} {
		t.Run(map[bool]string{false: "without syncer", true: "with syncer"}[withSyncer], func(t *testing.T) {
			s, err := open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"), withSyncer)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Millisecond)
			r := record(t, now)
			ctx := context.Background()
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := s.Touch(ctx, r.ID, session.Activity{At: now.Add(time.Duration(i) * time.Second), Location: "bahnhof", AP: "ap-1"}, i, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.fold(ctx, true); err != nil {
				t.Fatal(err)
			}
			if n := logRows(t, s); n != 0 {
				t.Fatalf("%d rows in the log after the fold", n)
			}
			// FULL without a syncer; with one, NORMAL and the syncer's
			// fsync after each commit.
			want := map[bool]int{false: 2, true: 1}[withSyncer]
			if got := pragma(t, s, "synchronous"); got != want {
				t.Fatalf("synchronous = %d on the writer after a fold, want %d", got, want)
			}
		})
	}
}

// TestDeleteEndedUsesIndexes: the sweep's DELETE searches indexes; a scan
// of every session (what its WHERE with OR did) was 0.4–0.7 s a minute at
// a million sessions.
func TestDeleteEndedUsesIndexes(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	plan := queryPlan(t, s, deleteEndedSQL, int64(0))
	searches := 0
	for _, step := range plan {
		// Scanning sessions_revoked is fine: a partial index of the
		// revoked sessions only.
		if strings.HasPrefix(step, "SCAN sessions") && !strings.Contains(step, "INDEX sessions_revoked") {
			t.Fatalf("the plan scans every session: %q", plan)
		}
		if strings.Contains(step, "USING COVERING INDEX sessions_expires") || strings.Contains(step, "USING COVERING INDEX sessions_revoked") ||
			strings.Contains(step, "USING INDEX sessions_expires") || strings.Contains(step, "USING INDEX sessions_revoked") {
			searches++
		}
	}
	if searches < 3 {
		t.Fatalf("the plan searches the indexes %d times, want 3: %q", searches, plan)
	}
}

// queryPlan is the details of SQLite's plan for query.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestTouchManyFindsSessionsByIndex: TouchMany's statement walks its
// array and finds each session through the ID's index; with the sessions
// as the outer loop it would read every session for each statement.
func TestTouchManyFindsSessionsByIndex(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	plan := queryPlan(t, s, touchManySQL, []byte(`[]`))
	var walk, search int
	for i, step := range plan {
		switch {
		case strings.HasPrefix(step, "SCAN sessions"):
			t.Fatalf("the plan scans every session: %q", plan)
		case strings.HasPrefix(step, "SCAN t"):
			walk = i + 1
		case strings.HasPrefix(step, "SEARCH s USING COVERING INDEX sqlite_autoindex_sessions_1 (id=?)"),
			strings.HasPrefix(step, "SEARCH s USING INDEX sqlite_autoindex_sessions_1 (id=?)"):
			search = i + 1
		case strings.Contains(step, "TEMP B-TREE"):
			t.Fatalf("the plan sorts the touches again: %q", plan)
		}
	}
	if walk == 0 || search == 0 || search < walk {
		t.Fatalf("want the array walked and each session searched by ID inside it: %q", plan)
	}
}

// TestTouchManyChunks: the touches are written a statement per touchChunk;
// a touch that cannot be stored (a time beyond what the log holds) or
// whose session is missing gets its own error, at the start, the middle
// and the end of a statement, and every other touch lands.
func TestTouchManyChunks(t *testing.T) {
	s, _, now := storeWithSession(t)
	ctx := context.Background()
	n := 2*touchChunk + 3
	bad := map[int]string{0: "time", touchChunk - 1: "missing", touchChunk: "missing", touchChunk + 5: "time", n - 1: "time"}
	touches := make([]session.Touch, n)
	want := map[string]session.Record{}
	for i := range touches {
		r := record(t, now)
		if bad[i] != "missing" {
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		a := session.Activity{At: now.Add(time.Duration(i+1) * time.Second), Location: fmt.Sprint("loc-", i), AP: "ap-1", OutputOctets: uint64(i)}
		if bad[i] == "time" {
			a.At = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
			want[r.ID] = r
		} else if bad[i] == "" {
			r.CurrentLocation, r.AP, r.LastSeen, r.Roams = a.Location, a.AP, a.At, i
			if i != 0 {
				r.OutputOctets = uint64(i)
			}
			want[r.ID] = r
		}
		touches[i] = session.Touch{ID: r.ID, Activity: a, Roams: i}
	}
	errs := make([]error, n)
	s.TouchMany(ctx, touches, errs)
	for i, err := range errs {
		switch bad[i] {
		case "missing":
			if !errors.Is(err, session.ErrNotFound) {
				t.Errorf("touch %d of a missing session: %v, want ErrNotFound", i, err)
			}
		case "time":
			if err == nil || !strings.Contains(err.Error(), "cannot be stored") {
				t.Errorf("touch %d at 2300: %v, want the time refused", i, err)
			}
		default:
			if err != nil {
				t.Errorf("touch %d: %v", i, err)
			}
		}
	}
	if got := logRows(t, s); got != n-len(bad) {
		t.Fatalf("%d rows in the log, want %d", got, n-len(bad))
	}
	for id, w := range want {
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("session %s:\n got %+v\nwant %+v", id, got, w)
		}
	}
	// A call whose every touch is of a missing session writes nothing.
	gone := []session.Touch{{ID: newID(t), Activity: touches[1].Activity}, {ID: newID(t), Activity: touches[2].Activity}}
	errs = make([]error, len(gone))
	s.TouchMany(ctx, gone, errs)
	for i, err := range errs {
		if !errors.Is(err, session.ErrNotFound) {
			t.Errorf("touch %d of a missing session: %v, want ErrNotFound", i, err)
		}
	}
	if got := logRows(t, s); got != n-len(bad) {
		t.Fatalf("%d rows in the log after touching missing sessions, want %d", got, n-len(bad))
	}
}

// TestFoldPlanRests: the fold's plan reads the log in steps, resting after
// each, and a plan read in steps is the plan read at once.
func TestFoldPlanRests(t *testing.T) {
	s, r, now := storeWithSession(t)
	stopFolder(s)
	ctx := context.Background()
	ids := []string{r.ID}
	for range 9 {
		r := record(t, now)
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	const touches = 3*foldScanRows + 5
	batch := make([]session.Touch, 0, touches)
	for i := range touches {
		var device []byte
		if i%7 == 0 {
			device = []byte{byte(i)}
		}
		batch = append(batch, session.Touch{ID: ids[i%len(ids)], Roams: i, SealedDevice: device,
			Activity: session.Activity{At: now.Add(time.Duration(i) * time.Millisecond), Location: "bahnhof", AP: "ap", InputOctets: uint64(i % 3)}})
	}
	errs := make([]error, len(batch))
	s.TouchMany(ctx, batch, errs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var first, last int64
	if err := s.r.QueryRow(`SELECT min(seq), max(seq) FROM activity`).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	rests := 0
	stepped, err := s.foldPlan(ctx, first, last, 4, func() error { rests++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := int(last-first)/foldScanRows + 1; rests < want {
		t.Errorf("the plan of %d touches rested %d times, want at least %d", last-first+1, rests, want)
	}
	// The same plan from one query over the whole log.
	bySid := map[int64]newest{}
	if err := s.foldScan(ctx, first, last, bySid, &sidSet{}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, sid := range slices.Sorted(maps.Keys(bySid)) {
		n := bySid[sid]
		want = append(want, fmt.Sprintf("[%d,%d,%d,%d]", n[0], n[1], n[2], n[3]))
	}
	var got []string
	for _, c := range stepped {
		var plan [][4]int64
		if err := json.Unmarshal(c, &plan); err != nil {
			t.Fatal(err)
		}
		for _, n := range plan {
			got = append(got, fmt.Sprintf("[%d,%d,%d,%d]", n[0], n[1], n[2], n[3]))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("plan read in steps:\n%v\nread at once:\n%v", got, want)
	}
	if len(want) != len(ids) {
		t.Fatalf("the plan has %d sessions, want %d", len(want), len(ids))
	}
}

// TestSidSetListsInOrder: the fold's set of rowids lists every one once,
// in order, those outside the bits too.
func TestSidSetListsInOrder(t *testing.T) {
	want := []int64{-5, 0, 1, 63, 64, 65, 1000, 4097, sidSetBits - 1, sidSetBits, sidSetBits + 7, 1 << 40}
	var set sidSet
	for _, i := range mrand.Perm(len(want)) {
		set.add(want[i])
	}
	got := slices.Collect(set.all())
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	// Stopping early is allowed.
	for sid := range set.all() {
		if sid > 0 {
			break
		}
	}
}
