// Package storetest is the conformance suite every session.Store passes, the
// way database drivers share one suite: a backend's test calls Run with a
// function that opens a fresh, empty store.
//
// It holds tests only; nothing in it is used at run time.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"roamgate/session"
)

// Opener opens a fresh, empty store for one test. reopen opens the same
// storage again after the suite has closed store (it is only called then), to
// check that what was written is durable.
//
// The suite closes every store it is given, exactly once; the opener cleans
// up the storage itself (t.TempDir, a flushed Redis database …).
type Opener func(t *testing.T) (store session.Store, reopen func(t *testing.T) session.Store)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"CreateGet", testCreateGet},
		{"CreateCopiesToken", testCreateCopiesToken},
		{"CreateExists", testCreateExists},
		{"NotFound", testNotFound},
		{"Rebind", testRebind},
		{"Touch", testTouch},
		{"TouchMany", testTouchMany},
		{"Revoke", testRevoke},
		{"Live", testLive},
		{"LiveStopsAtError", testLiveStopsAtError},
		{"DeleteEnded", testDeleteEnded},
		{"CanceledContext", testCanceledContext},
		{"Concurrent", testConcurrent},
		{"Reopen", testReopen},
		{"AdminGeneration", testAdminGeneration},
		// A Manager on the store: what it seals must survive the store
		// and an upgrade (session/seal.go).
		{"SealUpgrade", testSealUpgrade},
		{"SealCoversColumns", testSealCoversColumns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// handle is a store the suite closes exactly once, at the end of the test or
// before it reopens the storage.
type handle struct {
	session.Store
	reopen func(t *testing.T) session.Store
	closed bool
}

func start(t *testing.T, open Opener) *handle {
	t.Helper()
	s, reopen := open(t)
	h := &handle{Store: s, reopen: reopen}
	t.Cleanup(func() {
		if !h.closed {
			if err := h.Store.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return h
}

// cycle closes the store and opens the same storage again.
func (h *handle) cycle(t *testing.T) {
	t.Helper()
	if err := h.Store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h.closed = true
	h.Store = h.reopen(t)
	h.closed = false
}

// base is a fixed instant the records are made around.
var base = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// NewID returns a random session ID of the shape session.ValidID accepts.
func NewID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// record returns a record with every field set, created at base and expiring
// after ttl.
func record(t testing.TB, ttl time.Duration) session.Record {
	t.Helper()
	id := NewID(t)
	token := make([]byte, 60)
	if _, err := rand.Read(token); err != nil {
		t.Fatal(err)
	}
	return session.Record{
		Session: session.Session{
			ID:              id,
			MACKey:          session.MACKey(hex.EncodeToString(token[:32])),
			RandomMAC:       true,
			Network:         "wifi4eu",
			Location:        "bahnhof",
			CurrentLocation: "stadtpark",
			AP:              "ap-12",
			Created:         base,
			Expires:         base.Add(ttl),
			LastSeen:        base.Add(90 * time.Second),
			InputOctets:     1234,
			OutputOctets:    56789,
			Roams:           3,
			NAS:             session.NAS{Addr: netip.MustParseAddr("10.20.1.7"), ID: "bahnhof-ap-1", AcctSessionID: "5F3A-0001"},
		},
		SealedToken:  token,
		SealedDevice: append([]byte("sealed device "), token[:8]...),
	}
}

func mustCreate(t *testing.T, s session.Store, r session.Record) {
	t.Helper()
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
}

func mustGet(t *testing.T, s session.Store, id string) session.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

// sameTime compares to the second: a store may keep seconds only.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// diff lists the fields in which got differs from want.
func diff(got, want session.Record) []string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if got.MACKey != want.MACKey {
		add("MACKey", got.MACKey, want.MACKey)
	}
	if got.RandomMAC != want.RandomMAC {
		add("RandomMAC", got.RandomMAC, want.RandomMAC)
	}
	if got.Network != want.Network {
		add("Network", got.Network, want.Network)
	}
	if got.Location != want.Location {
		add("Location", got.Location, want.Location)
	}
	if got.CurrentLocation != want.CurrentLocation {
		add("CurrentLocation", got.CurrentLocation, want.CurrentLocation)
	}
	if got.AP != want.AP {
		add("AP", got.AP, want.AP)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"Created", got.Created, want.Created}, {"Expires", got.Expires, want.Expires}, {"LastSeen", got.LastSeen, want.LastSeen}} {
		if !sameTime(f.got, f.want) {
			add(f.name, f.got, f.want)
		}
	}
	if got.InputOctets != want.InputOctets {
		add("InputOctets", got.InputOctets, want.InputOctets)
	}
	if got.OutputOctets != want.OutputOctets {
		add("OutputOctets", got.OutputOctets, want.OutputOctets)
	}
	if got.Roams != want.Roams {
		add("Roams", got.Roams, want.Roams)
	}
	if got.Revoked != want.Revoked {
		add("Revoked", got.Revoked, want.Revoked)
	}
	if !bytes.Equal(got.SealedToken, want.SealedToken) {
		add("SealedToken", hex.EncodeToString(got.SealedToken), hex.EncodeToString(want.SealedToken))
	}
	if got.NAS != want.NAS {
		add("NAS", got.NAS, want.NAS)
	}
	if !bytes.Equal(got.SealedDevice, want.SealedDevice) {
		add("SealedDevice", hex.EncodeToString(got.SealedDevice), hex.EncodeToString(want.SealedDevice))
	}
	if got.Device != (session.Device{}) {
		add("Device (a store never sees it in the clear)", got.Device, session.Device{})
	}
	return d
}

func expectRecord(t *testing.T, got, want session.Record) {
	t.Helper()
	for _, d := range diff(got, want) {
		t.Errorf("record %s: %s", want.ID, d)
	}
}

func testCreateGet(t *testing.T, open Opener) {
	s := start(t, open)
	tests := []struct {
		name   string
		modify func(r *session.Record)
	}{
		{"all fields", func(r *session.Record) {}},
		{"sub-second times", func(r *session.Record) {
			r.Created = r.Created.Add(999 * time.Millisecond)
			r.LastSeen = r.LastSeen.Add(123456789 * time.Nanosecond)
		}},
		{"times in another zone", func(r *session.Record) {
			zone := time.FixedZone("CET", 3600)
			r.Created, r.Expires, r.LastSeen = r.Created.In(zone), r.Expires.In(zone), r.LastSeen.In(zone)
		}},
		{"no MAC, empty strings, zero counters", func(r *session.Record) {
			r.MACKey, r.RandomMAC = "", false
			r.Network, r.Location, r.CurrentLocation, r.AP = "", "", "", ""
			r.InputOctets, r.OutputOctets, r.Roams = 0, 0, 0
		}},
		{"octets beyond int64", func(r *session.Record) {
			r.InputOctets = math.MaxUint64
			r.OutputOctets = 1<<63 + 5
		}},
		{"revoked", func(r *session.Record) { r.Revoked = true }},
		{"unicode names", func(r *session.Record) {
			r.Location, r.CurrentLocation, r.AP = "brückerfeld", "rathaus-platz ☂", "ap \"quoted\" 'x'; --"
		}},
		{"long token", func(r *session.Record) { r.SealedToken = bytes.Repeat([]byte{0, 0xff, 'x'}, 2000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, time.Hour)
			tt.modify(&r)
			mustCreate(t, s, r)
			expectRecord(t, mustGet(t, s, r.ID), r)
		})
	}
}

// A store must not keep the caller's token slice: the caller may reuse it.
func testCreateCopiesToken(t *testing.T, open Opener) {
	s := start(t, open)
	r := record(t, time.Hour)
	want := append([]byte(nil), r.SealedToken...)
	mustCreate(t, s, r)
	r.SealedToken[0] ^= 0xff
	got := mustGet(t, s, r.ID)
	if !bytes.Equal(got.SealedToken, want) {
		t.Errorf("SealedToken changed with the caller's slice")
	}
	got.SealedToken[1] ^= 0xff
	if again := mustGet(t, s, r.ID); !bytes.Equal(again.SealedToken, want) {
		t.Errorf("SealedToken changed with a returned slice")
	}
}

func testCreateExists(t *testing.T, open Opener) {
	s := start(t, open)
	first := record(t, time.Hour)
	mustCreate(t, s, first)

	second := record(t, 2*time.Hour)
	second.ID = first.ID
	err := s.Create(context.Background(), second)
	if !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create with a taken ID: err = %v, want ErrExists", err)
	}
	expectRecord(t, mustGet(t, s, first.ID), first)
}

func testNotFound(t *testing.T, open Opener) {
	s := start(t, open)
	present := record(t, time.Hour)
	mustCreate(t, s, present)
	missing := NewID(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, missing); return err }},
		{"Get empty ID", func() error { _, err := s.Get(ctx, ""); return err }},
		{"Get ID in upper case", func() error {
			_, err := s.Get(ctx, string(bytes.ToUpper([]byte(present.ID))))
			return err
		}},
		{"Rebind", func() error { return s.Rebind(ctx, missing, "k", false, []byte("t")) }},
		{"Touch", func() error { return s.Touch(ctx, missing, session.Activity{At: base, Location: "x"}, 1, nil) }},
		{"Revoke", func() error { return s.Revoke(ctx, missing) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
	// None of them may have created or changed anything.
	expectRecord(t, mustGet(t, s, present.ID), present)
	n := 0
	if err := s.Live(ctx, base, func(session.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Live sees %d records, want 1", n)
	}
}

func testRebind(t *testing.T, open Opener) {
	s := start(t, open)
	ctx := context.Background()
	tests := []struct {
		name   string
		key    session.MACKey
		random bool
		token  []byte
	}{
		{"to a random MAC", "new-key-1", true, []byte("new sealed token")},
		{"to a global MAC", "new-key-2", false, []byte{0, 1, 2, 3}},
		{"to no MAC", "", false, []byte("token without device")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, time.Hour)
			r.RandomMAC = !tt.random
			other := record(t, time.Hour)
			mustCreate(t, s, r)
			mustCreate(t, s, other)
			if err := s.Rebind(ctx, r.ID, tt.key, tt.random, tt.token); err != nil {
				t.Fatalf("Rebind: %v", err)
			}
			want := r
			want.MACKey, want.RandomMAC, want.SealedToken = tt.key, tt.random, tt.token
			expectRecord(t, mustGet(t, s, r.ID), want)
			expectRecord(t, mustGet(t, s, other.ID), other)
		})
	}
}

func testTouch(t *testing.T, open Opener) {
	s := start(t, open)
	ctx := context.Background()
	later := base.Add(10 * time.Minute)
	nas := session.NAS{Addr: netip.MustParseAddr("2001:db8::7"), ID: "stadtpark-ap-3", AcctSessionID: "A-7"}
	tests := []struct {
		name   string
		a      session.Activity
		device []byte
		roams  int
		want   func(r *session.Record)
	}{
		{"new place, new counters",
			session.Activity{At: later, Location: "rathaus", AP: "ap-99", InputOctets: 1 << 40, OutputOctets: 7, NAS: nas}, nil,
			4,
			func(r *session.Record) {
				r.CurrentLocation, r.AP, r.LastSeen, r.Roams = "rathaus", "ap-99", later, 4
				r.InputOctets, r.OutputOctets, r.NAS = 1<<40, 7, nas
			}},
		{"new sealed device",
			session.Activity{At: later, Location: "stadtpark", AP: "ap-12", NAS: nas}, []byte("moved"),
			3,
			func(r *session.Record) { r.LastSeen, r.NAS, r.SealedDevice = later, nas, []byte("moved") }},
		{"zero octets and no sealed device keep the old ones; the NAS is replaced",
			session.Activity{At: later, Location: "stadtpark", AP: "ap-12"}, nil,
			3,
			func(r *session.Record) { r.LastSeen, r.NAS = later, session.NAS{} }},
		{"one counter only",
			session.Activity{At: later, Location: "stadtpark", AP: "ap-12", OutputOctets: 99, NAS: nas}, nil,
			3,
			func(r *session.Record) { r.LastSeen, r.OutputOctets, r.NAS = later, 99, nas }},
		{"octets beyond int64",
			session.Activity{At: later, Location: "stadtpark", AP: "ap-12", InputOctets: math.MaxUint64, OutputOctets: 1 << 63, NAS: nas}, nil,
			3,
			func(r *session.Record) {
				r.LastSeen, r.InputOctets, r.OutputOctets, r.NAS = later, math.MaxUint64, 1<<63, nas
			}},
		{"location, AP and last seen are replaced, even by empty values and earlier times",
			session.Activity{At: base.Add(time.Second)}, nil,
			0,
			func(r *session.Record) {
				r.CurrentLocation, r.AP, r.LastSeen, r.Roams, r.NAS = "", "", base.Add(time.Second), 0, session.NAS{}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, time.Hour)
			other := record(t, time.Hour)
			mustCreate(t, s, r)
			mustCreate(t, s, other)
			if err := s.Touch(ctx, r.ID, tt.a, tt.roams, tt.device); err != nil {
				t.Fatalf("Touch: %v", err)
			}
			want := r
			tt.want(&want)
			expectRecord(t, mustGet(t, s, r.ID), want)
			expectRecord(t, mustGet(t, s, other.ID), other)
		})
	}
}

// testTouchMany: a store that is a session.BatchToucher writes each touch
// of one call as Touch would, and says ErrNotFound for a missing session
// without failing the others.
func testTouchMany(t *testing.T, open Opener) {
	s := start(t, open)
	bt, ok := s.Store.(session.BatchToucher)
	if !ok {
		t.Skip("not a session.BatchToucher")
	}
	ctx := context.Background()
	later := base.Add(10 * time.Minute)
	nas := session.NAS{Addr: netip.MustParseAddr("192.0.2.7"), ID: "bahnhof-ap-1", AcctSessionID: "B-1"}
	var touches []session.Touch
	var want []session.Record
	for i := range 300 { // more than one group commit holds
		r := record(t, time.Hour)
		mustCreate(t, s, r)
		a := session.Activity{At: later.Add(time.Duration(i) * time.Second), Location: fmt.Sprintf("loc-%d", i%7), AP: "ap-1",
			InputOctets: uint64(i), NAS: nas}
		touches = append(touches, session.Touch{ID: r.ID, Activity: a, Roams: i, SealedDevice: []byte(fmt.Sprint("device ", i))})
		r.CurrentLocation, r.AP, r.LastSeen, r.Roams, r.NAS = a.Location, a.AP, a.At, i, nas
		if i != 0 {
			r.InputOctets = uint64(i)
		}
		r.SealedDevice = []byte(fmt.Sprint("device ", i))
		want = append(want, r)
		if i == 150 {
			touches = append(touches, session.Touch{ID: NewID(t), Activity: a})
			want = append(want, session.Record{})
		}
	}
	errs := make([]error, len(touches))
	bt.TouchMany(ctx, touches, errs)
	for i, w := range want {
		if w.ID == "" {
			if !errors.Is(errs[i], session.ErrNotFound) {
				t.Errorf("touch %d of a missing session: %v, want ErrNotFound", i, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("touch %d: %v", i, errs[i])
		}
		expectRecord(t, mustGet(t, s, w.ID), w)
	}
}

func testRevoke(t *testing.T, open Opener) {
	s := start(t, open)
	ctx := context.Background()
	r := record(t, time.Hour)
	other := record(t, time.Hour)
	mustCreate(t, s, r)
	mustCreate(t, s, other)
	for i := range 2 { // revoking twice is not an error
		if err := s.Revoke(ctx, r.ID); err != nil {
			t.Fatalf("Revoke #%d: %v", i+1, err)
		}
	}
	want := r
	want.Revoked = true
	want.SealedToken = nil // a revoked session keeps no token that could verify
	expectRecord(t, mustGet(t, s, r.ID), want)
	expectRecord(t, mustGet(t, s, other.ID), other)
}

// liveIDs returns the sorted IDs Live reports at now.
func liveIDs(t *testing.T, s session.Store, now time.Time) []string {
	t.Helper()
	var ids []string
	err := s.Live(context.Background(), now, func(r session.Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Live: %v", err)
	}
	sort.Strings(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func sameIDs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// fixture is a set of records around now, each ending differently.
type fixture struct {
	now                                                 time.Time
	live, liveSoon, atNow, expired, revoked, revokedOld session.Record
}

func newFixture(t *testing.T, s session.Store) fixture {
	t.Helper()
	f := fixture{now: base.Add(time.Hour)}
	mk := func(expires time.Time) session.Record {
		r := record(t, 0)
		r.Expires = expires
		mustCreate(t, s, r)
		return r
	}
	f.live = mk(f.now.Add(time.Hour))
	f.liveSoon = mk(f.now.Add(time.Second))
	f.atNow = mk(f.now) // expires at now: no longer live, not yet "expired before" now
	f.expired = mk(f.now.Add(-time.Second))
	f.revoked = mk(f.now.Add(time.Hour))
	f.revokedOld = mk(f.now.Add(-time.Hour))
	for _, id := range []string{f.revoked.ID, f.revokedOld.ID} {
		if err := s.Revoke(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func testLive(t *testing.T, open Opener) {
	s := start(t, open)
	f := newFixture(t, s)
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"at now", f.now, sorted(f.live.ID, f.liveSoon.ID)},
		{"a second before now", f.now.Add(-time.Second), sorted(f.live.ID, f.liveSoon.ID, f.atNow.ID)},
		{"long before", base.Add(-time.Hour), sorted(f.live.ID, f.liveSoon.ID, f.atNow.ID, f.expired.ID)},
		{"the zero time", time.Time{}, sorted(f.live.ID, f.liveSoon.ID, f.atNow.ID, f.expired.ID)},
		{"after all", f.now.Add(2 * time.Hour), sorted()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sorted(liveIDs(t, s, tt.now)...); !sameIDs(got, tt.want) {
				t.Errorf("Live(%s) = %v, want %v", tt.now.Format(time.TimeOnly), got, tt.want)
			}
		})
	}
	t.Run("records are complete", func(t *testing.T) {
		err := s.Live(context.Background(), f.now, func(r session.Record) error {
			switch r.ID {
			case f.live.ID:
				expectRecord(t, r, f.live)
			case f.liveSoon.ID:
				expectRecord(t, r, f.liveSoon)
			default:
				t.Errorf("unexpected record %s", r.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func testLiveStopsAtError(t *testing.T, open Opener) {
	s := start(t, open)
	for range 5 {
		mustCreate(t, s, record(t, time.Hour))
	}
	stop := errors.New("stop here")
	calls := 0
	err := s.Live(context.Background(), base, func(session.Record) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Live: err = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback called %d times after returning an error, want 1", calls)
	}
}

func testDeleteEnded(t *testing.T, open Opener) {
	s := start(t, open)
	ctx := context.Background()
	f := newFixture(t, s)

	n, err := s.DeleteEnded(ctx, f.now)
	if err != nil {
		t.Fatalf("DeleteEnded: %v", err)
	}
	if n != 3 {
		t.Errorf("DeleteEnded = %d, want 3 (expired, revoked, revoked and expired)", n)
	}
	for _, tt := range []struct {
		name string
		r    session.Record
		kept bool
	}{
		{"live", f.live, true},
		{"live for a second more", f.liveSoon, true},
		{"expiring exactly at the cut-off", f.atNow, true},
		{"expired", f.expired, false},
		{"revoked", f.revoked, false},
		{"revoked and expired", f.revokedOld, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Get(ctx, tt.r.ID)
			switch {
			case tt.kept && err != nil:
				t.Errorf("Get after DeleteEnded: %v, want the record kept", err)
			case !tt.kept && !errors.Is(err, session.ErrNotFound):
				t.Errorf("Get after DeleteEnded: err = %v, want ErrNotFound", err)
			}
		})
	}
	if n, err := s.DeleteEnded(ctx, f.now); err != nil || n != 0 {
		t.Errorf("second DeleteEnded = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.DeleteEnded(ctx, f.now.Add(2*time.Second)); err != nil || n != 2 {
		t.Errorf("DeleteEnded two seconds later = %d, %v; want 2, nil", n, err)
	}
	if got, want := liveIDs(t, s, f.now), sorted(f.live.ID); !sameIDs(got, want) {
		t.Errorf("Live after DeleteEnded = %v, want %v", got, want)
	}
}

func testCanceledContext(t *testing.T, open Opener) {
	s := start(t, open)
	present := record(t, time.Hour)
	mustCreate(t, s, present)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := record(t, time.Hour)
	tests := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { return s.Create(ctx, fresh) }},
		{"Get", func() error { _, err := s.Get(ctx, present.ID); return err }},
		{"Touch", func() error { return s.Touch(ctx, present.ID, session.Activity{At: base, Location: "x"}, 9, nil) }},
		{"Revoke", func() error { return s.Revoke(ctx, present.ID) }},
		{"Live", func() error { return s.Live(ctx, base, func(session.Record) error { return nil }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
	if _, err := s.Get(context.Background(), fresh.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Create with a canceled context stored the record (Get: %v)", err)
	}
	expectRecord(t, mustGet(t, s, present.ID), present)
}

// testConcurrent creates, touches, revokes and reads from many goroutines at
// once (run it under -race), then checks that every write landed.
func testConcurrent(t *testing.T, open Opener) {
	s := start(t, open)
	ctx := context.Background()
	const workers, each = 8, 12
	recs := make([][]session.Record, workers)
	for w := range recs {
		for range each {
			recs[w] = append(recs[w], record(t, time.Hour))
		}
	}

	errs := make(chan error, workers*each*4+64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i, r := range recs[w] {
				if err := s.Create(ctx, r); err != nil {
					errs <- fmt.Errorf("create: %w", err)
					return
				}
				a := session.Activity{At: base.Add(time.Duration(i+1) * time.Second), Location: fmt.Sprintf("loc-%d", w), AP: "ap", InputOctets: uint64(i + 1)}
				if err := s.Touch(ctx, r.ID, a, i, nil); err != nil {
					errs <- fmt.Errorf("touch: %w", err)
				}
				if i%4 == 0 {
					if err := s.Revoke(ctx, r.ID); err != nil {
						errs <- fmt.Errorf("revoke: %w", err)
					}
				}
				got, err := s.Get(ctx, r.ID)
				if err != nil {
					errs <- fmt.Errorf("get: %w", err)
				} else if got.CurrentLocation != a.Location {
					errs <- fmt.Errorf("get %s right after touch: location %q, want %q", r.ID, got.CurrentLocation, a.Location)
				}
			}
		})
	}
	// Readers scanning while the writers write.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Live(ctx, base, func(session.Record) error { return nil }); err != nil {
					errs <- fmt.Errorf("live: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	live := 0
	for w := range workers {
		for i, r := range recs[w] {
			got := mustGet(t, s, r.ID)
			want := r
			want.CurrentLocation, want.AP, want.NAS = fmt.Sprintf("loc-%d", w), "ap", session.NAS{}
			want.LastSeen, want.InputOctets, want.Roams = base.Add(time.Duration(i+1)*time.Second), uint64(i+1), i
			want.Revoked = i%4 == 0
			if want.Revoked {
				want.SealedToken = nil
			} else {
				live++
			}
			expectRecord(t, got, want)
		}
	}
	if got := len(liveIDs(t, s, base)); got != live {
		t.Errorf("Live sees %d records, want %d", got, live)
	}
}

func testReopen(t *testing.T, open Opener) {
	h := start(t, open)
	ctx := context.Background()
	var recs []session.Record
	for range 20 {
		r := record(t, time.Hour)
		mustCreate(t, h, r)
		recs = append(recs, r)
	}
	touched := session.Activity{At: base.Add(5 * time.Minute), Location: "rathaus", AP: "ap-7", InputOctets: 10, OutputOctets: 20,
		NAS: session.NAS{Addr: netip.MustParseAddr("10.99.0.1"), ID: "rathaus-ap-2", AcctSessionID: "R2"}}
	newDevice := []byte("new device")
	if err := h.Touch(ctx, recs[0].ID, touched, 9, newDevice); err != nil {
		t.Fatal(err)
	}
	if err := h.Revoke(ctx, recs[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Rebind(ctx, recs[2].ID, "rebound", false, []byte("rebound token")); err != nil {
		t.Fatal(err)
	}
	recs[0].CurrentLocation, recs[0].AP, recs[0].LastSeen, recs[0].Roams = "rathaus", "ap-7", touched.At, 9
	recs[0].InputOctets, recs[0].OutputOctets, recs[0].NAS, recs[0].SealedDevice = 10, 20, touched.NAS, newDevice
	recs[1].Revoked, recs[1].SealedToken = true, nil
	recs[2].MACKey, recs[2].RandomMAC, recs[2].SealedToken = "rebound", false, []byte("rebound token")

	h.cycle(t)

	for _, r := range recs {
		expectRecord(t, mustGet(t, h, r.ID), r)
	}
	if got := len(liveIDs(t, h, base)); got != len(recs)-1 {
		t.Errorf("Live after reopen sees %d records, want %d", got, len(recs)-1)
	}
	// The reopened store is fully usable.
	fresh := record(t, time.Hour)
	mustCreate(t, h, fresh)
	if err := h.Create(ctx, recs[3]); !errors.Is(err, session.ErrExists) {
		t.Errorf("Create of a record from before the reopen: err = %v, want ErrExists", err)
	}
}

// testAdminGeneration checks session.AdminStore, the admin listener's
// sign-out state: generations start at 0, rise by one per raise (also from
// many goroutines at once), are kept per name exactly as given, survive a
// reopen, and honour the context.
func testAdminGeneration(t *testing.T, open Opener) {
	h := start(t, open)
	as := func() session.AdminStore {
		a, ok := h.Store.(session.AdminStore)
		if !ok {
			t.Fatalf("%T does not implement session.AdminStore", h.Store)
		}
		return a
	}
	ctx := context.Background()
	get := func(name string) uint64 {
		t.Helper()
		g, err := as().AdminGeneration(ctx, name)
		if err != nil {
			t.Fatalf("AdminGeneration(%q): %v", name, err)
		}
		return g
	}
	raise := func(name string) uint64 {
		t.Helper()
		g, err := as().RaiseAdminGeneration(ctx, name)
		if err != nil {
			t.Fatalf("RaiseAdminGeneration(%q): %v", name, err)
		}
		return g
	}
	names := []string{"ops", "Ops", "it-team", "leitstelle:nord", "Jürgen {x}*", ""}
	for _, n := range names {
		if g := get(n); g != 0 {
			t.Errorf("generation of %q before any raise = %d, want 0", n, g)
		}
	}
	for want := uint64(1); want <= 3; want++ {
		if g := raise("ops"); g != want {
			t.Errorf("raise %d of ops returned %d", want, g)
		}
	}
	if g := raise("Jürgen {x}*"); g != 1 {
		t.Errorf("first raise of another name returned %d, want 1", g)
	}
	for name, want := range map[string]uint64{"ops": 3, "Ops": 0, "it-team": 0, "Jürgen {x}*": 1} {
		if g := get(name); g != want {
			t.Errorf("generation of %q = %d, want %d", name, g, want)
		}
	}

	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := as().RaiseAdminGeneration(ctx, "it-team"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if g := get("it-team"); g != workers*each {
		t.Errorf("after %d concurrent raises the generation is %d", workers*each, g)
	}

	h.cycle(t)
	if g := get("ops"); g != 3 {
		t.Errorf("generation of ops after reopen = %d, want 3", g)
	}
	if g := raise("ops"); g != 4 {
		t.Errorf("raise after reopen returned %d, want 4", g)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := as().AdminGeneration(canceled, "ops"); !errors.Is(err, context.Canceled) {
		t.Errorf("AdminGeneration with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := as().RaiseAdminGeneration(canceled, "ops"); !errors.Is(err, context.Canceled) {
		t.Errorf("RaiseAdminGeneration with a canceled context: err = %v, want context.Canceled", err)
	}
	if g := get("ops"); g != 4 {
		t.Errorf("a canceled raise changed the generation to %d", g)
	}
}
