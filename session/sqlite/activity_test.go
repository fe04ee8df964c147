package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"roamgate/session"
)

// newID is a session ID (storetest's would be an import cycle here).
func newID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func openInternal(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(t *testing.T, now time.Time) session.Record {
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

func logRows(t *testing.T, s *Store) int {
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

	// A fold cut off after its first chunk: sessions rows half updated,
	// the log all there.
	pending, last, err := pendingActivity(ctx, s.r, `SELECT `+activityColumns+` FROM activity ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var half []sessionKey
	for k := range pending {
		if len(half) < len(pending)/2 {
			half = append(half, k)
		}
	}
	if err := s.foldChunk(ctx, half, pending, false, last); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "after half a fold", everything(t, s, ids, now), before)
	for range 2 {
		if err := s.fold(ctx); err != nil {
			t.Fatal(err)
		}
		if n := logRows(t, s); n != 0 {
			t.Fatalf("%d rows in the log after a fold", n)
		}
		sameRecords(t, "after the fold", everything(t, s, ids, now), before)
	}
}

// TestFoldNeverAppliesToAnotherSession: the log names a session by rowid
// and ID; a session that took a deleted one's rowid over keeps its own
// values.
func TestFoldNeverAppliesToAnotherSession(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := record(t, now)
	if err := s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, old.ID, session.Activity{At: now, Location: "elsewhere", AP: "ap-x"}, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteEnded(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteEnded = %d, %v", n, err)
	}
	fresh := record(t, now)
	if err := s.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	var oldSid, freshSid int64
	if err := s.r.QueryRow(`SELECT sid FROM activity`).Scan(&oldSid); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`SELECT rowid FROM sessions WHERE id = ?`, fresh.ID).Scan(&freshSid); err != nil {
		t.Fatal(err)
	}
	if oldSid != freshSid {
		t.Fatalf("rowid %d not taken over (%d): the test proves nothing", oldSid, freshSid)
	}
	if err := s.fold(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, fresh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentLocation != "bahnhof" || got.Roams != 0 {
		t.Fatalf("the new session got the old one's activity: %+v", got)
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
	if err := db.QueryRow(`SELECT current_location, (SELECT count(*) FROM activity) FROM sessions WHERE id = ?`, r.ID).Scan(&loc, &n); err != nil {
		t.Fatal(err)
	}
	if loc != "stadtpark" || n != 0 {
		t.Fatalf("after Close: current_location %q, %d log rows", loc, n)
	}
}
