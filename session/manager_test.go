package session_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// harness is a Manager on a real SQLite store in a temporary data directory
// (session/sessiontest), with a clock the test moves, that the test can
// restart.
type harness struct {
	dir    string
	dbPath string
	clock  *testtool.Clock
	policy session.Policy
	key    []byte
	tokens *session.Tokens
	store  session.Store
	m      *session.Manager
	site   *sessiontest.Site
	// wrap, when set, wraps the store the manager gets.
	wrap func(session.Store) session.Store
	// noJournal: activity goes to the store at once (sessiontest.Options).
	noJournal bool
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func defaultPolicy() session.Policy {
	return session.Policy{Lifetime: 4 * time.Hour, IdleTimeout: 30 * time.Minute,
		NetworkLifetime: map[string]time.Duration{"city": 12 * time.Hour}}
}

func newHarness(t *testing.T, p session.Policy) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), clock: newClock(), policy: p}
	h.dbPath = filepath.Join(h.dir, "sessions.db")
	h.start(t)
	t.Cleanup(func() { h.stop(t) })
	return h
}

// start opens the store and a manager on it.
func (h *harness) start(t *testing.T) session.LoadReport {
	t.Helper()
	var err error
	h.site, err = sessiontest.Open(sessiontest.Options{Dir: h.dir, Policy: h.policy, Now: h.clock.Now, Logger: quiet, Wrap: h.wrap,
		NoJournal: h.noJournal})
	if err != nil {
		t.Fatal(err)
	}
	h.key, h.tokens, h.store, h.m = h.site.SiteKey, h.site.Tokens, h.site.Store, h.site.Manager
	return h.site.Report
}

// stop closes the manager (flushing activity) and the store.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.site == nil {
		return
	}
	if err := h.site.Close(); err != nil {
		t.Error(err)
	}
	h.site, h.m, h.store = nil, nil, nil
}

// restart is a gateway restart on the same data directory.
func (h *harness) restart(t *testing.T) session.LoadReport {
	t.Helper()
	h.stop(t)
	return h.start(t)
}

// sql runs statements on the database while the store is closed: someone
// editing the file behind roamgate's back.
func (h *harness) sql(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s: changed nothing", query)
	}
}

func mustMAC(t testing.TB, s string) session.MAC {
	t.Helper()
	m, err := session.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *harness) create(t *testing.T, mac string, network, location string) (session.Session, string) {
	t.Helper()
	return h.createWith(t, "", mac, network, location)
}

// createWith is create for a requester that presents token (its cookie).
func (h *harness) createWith(t *testing.T, token, mac string, network, location string) (session.Session, string) {
	t.Helper()
	req := session.CreateRequest{Network: network, Location: location, AP: "ap-" + location, Token: token}
	if mac != "" {
		req.MAC, req.HasMAC = mustMAC(t, mac), true
	}
	s, tok, err := h.m.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s, tok
}

func TestManagerCreateAndFind(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	now := h.clock.Now()
	mac := mustMAC(t, "DA-A1-19-12-34-56") // a phone's private address
	s, tok, err := h.m.Create(context.Background(), session.CreateRequest{
		MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof", AP: "ap-7",
		ClientIP: netip.MustParseAddr("::ffff:10.1.2.3"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !session.ValidID(s.ID) {
		t.Errorf("ID %q is not a session ID", s.ID)
	}
	want := session.Session{
		ID: s.ID, MACKey: h.m.Hasher().Key(mac), RandomMAC: true,
		Network: "wifi4eu", Location: "bahnhof", CurrentLocation: "bahnhof", AP: "ap-7",
		Created: now, Expires: now.Add(4 * time.Hour), LastSeen: now,
		Device: session.Device{MAC: mac, HasMAC: true, IP: netip.MustParseAddr("10.1.2.3"), AddrCurrent: true},
	}
	if s != want {
		t.Errorf("Create = %+v\nwant     %+v", s, want)
	}

	lookups := []struct {
		name string
		find func() (session.Session, error)
	}{
		{"ByMAC", func() (session.Session, error) { return h.m.ByMAC(mac) }},
		{"ByMAC other notation", func() (session.Session, error) { return h.m.ByMAC(mustMAC(t, "daa1.1912.3456")) }},
		{"ByMACKey", func() (session.Session, error) { return h.m.ByMACKey(want.MACKey) }},
		{"ByID", func() (session.Session, error) { return h.m.ByID(s.ID) }},
		{"FromToken", func() (session.Session, error) { return h.m.FromToken(tok) }},
		{"ByIP", func() (session.Session, error) { return h.m.ByIP(netip.MustParseAddr("10.1.2.3")) }},
	}
	for _, l := range lookups {
		t.Run(l.name, func(t *testing.T) {
			got, err := l.find()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}

	t.Run("token", func(t *testing.T) {
		c, err := h.tokens.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != s.ID || c.MACKey != want.MACKey || !c.ExpiresAt.Equal(want.Expires) {
			t.Errorf("claims sub=%s mk=%s exp=%v", c.Subject, c.MACKey, c.ExpiresAt)
		}
	})
	t.Run("stored without MAC or token in the clear", func(t *testing.T) {
		r, err := h.store.Get(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantStored := want
		wantStored.Device = session.Device{} // sealed, never in the clear
		if r.Session != wantStored {
			t.Errorf("stored %+v, want %+v", r.Session, wantStored)
		}
		for _, clear := range []string{"10.1.2.3", "da:a1:19:12:34:56", "daa119123456"} {
			if bytes.Contains(r.SealedDevice, []byte(clear)) {
				t.Errorf("the sealed device shows %q", clear)
			}
		}
		if len(r.SealedDevice) == 0 {
			t.Error("the device was not stored (sealed)")
		}
		if bytes.Contains(r.SealedToken, []byte(tok)) || bytes.Contains(r.SealedToken, []byte(strings.Split(tok, ".")[1])) {
			t.Error("the stored token is in the clear")
		}
		for _, form := range []string{"daa119123456", "da:a1:19:12:34:56"} {
			if strings.Contains(string(r.MACKey), form) {
				t.Error("the stored MAC key contains the MAC")
			}
		}
	})
	t.Run("misses", func(t *testing.T) {
		if _, err := h.m.ByMAC(mustMAC(t, "da:a1:19:12:34:57")); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("ByMAC of another device: %v, want ErrNotFound", err)
		}
		for _, id := range []string{"", "nope", strings.ToUpper(s.ID), "ffffffffffffffffffffffffffffffff"} {
			if _, err := h.m.ByID(id); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("ByID(%q): %v, want ErrNotFound", id, err)
			}
		}
		if _, err := h.m.ByMACKey(""); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("ByMACKey(\"\"): %v, want ErrNotFound", err)
		}
		if _, err := h.m.FromToken("garbage"); !errors.Is(err, session.ErrTokenMalformed) {
			t.Errorf("FromToken(garbage): %v, want ErrTokenMalformed", err)
		}
	})
}

func TestManagerCreateVariants(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	t.Run("without MAC", func(t *testing.T) {
		s, tok, err := h.m.Create(ctx, session.CreateRequest{Network: "wifi4eu", Location: "rathaus"})
		if err != nil {
			t.Fatal(err)
		}
		if s.MACKey != "" || s.RandomMAC {
			t.Errorf("session without MAC has MACKey %q RandomMAC %v", s.MACKey, s.RandomMAC)
		}
		if got, err := h.m.FromToken(tok); err != nil || got.ID != s.ID {
			t.Errorf("FromToken = %s, %v", got.ID, err)
		}
	})
	t.Run("global MAC is not random", func(t *testing.T) {
		s, _ := h.create(t, "00:1a:2b:3c:4d:5e", "wifi4eu", "bahnhof")
		if s.RandomMAC {
			t.Error("a vendor MAC is recorded as random")
		}
	})
	t.Run("network lifetime", func(t *testing.T) {
		s, _ := h.create(t, "02:00:00:00:00:01", "city", "stadtpark")
		if got := s.Expires.Sub(s.Created); got != 12*time.Hour {
			t.Errorf("lifetime on network city = %v, want 12h", got)
		}
		if got := h.m.TimeLeft(s); got != 12*time.Hour {
			t.Errorf("TimeLeft = %v, want 12h", got)
		}
	})
	for _, mac := range []string{"01:00:5e:00:00:fb", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"} {
		t.Run("refused "+mac, func(t *testing.T) {
			_, _, err := h.m.Create(ctx, session.CreateRequest{MAC: mustMAC(t, mac), HasMAC: true, Network: "wifi4eu"})
			if !errors.Is(err, session.ErrInvalidMAC) {
				t.Errorf("Create: %v, want ErrInvalidMAC", err)
			}
		})
	}
	n := 0
	if err := h.store.Live(ctx, h.clock.Now(), func(session.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("store holds %d live sessions, want 3", n)
	}
}

func TestManagerSameMACSameSession(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s1, tok1 := h.create(t, "da:a1:19:00:00:01", "wifi4eu", "bahnhof")
	h.clock.Add(10 * time.Minute)
	s2, tok2 := h.createWith(t, tok1, "DAA119000001", "wifi4eu", "stadtpark") // the holder, with its cookie
	if s2.ID != s1.ID {
		t.Fatalf("second sign-in made session %s, want the existing %s", s2.ID, s1.ID)
	}
	if !s2.Expires.Equal(s1.Expires) {
		t.Errorf("second sign-in moved the expiry from %v to %v", s1.Expires, s2.Expires)
	}
	if tok2 == tok1 {
		t.Error("second sign-in returned the same token")
	}
	for i, tok := range []string{tok1, tok2} {
		if got, err := h.m.FromToken(tok); err != nil || got.ID != s1.ID {
			t.Errorf("token %d: %s, %v", i+1, got.ID, err)
		}
	}
	n := 0
	h.store.Live(context.Background(), h.clock.Now(), func(session.Record) error { n++; return nil })
	if n != 1 {
		t.Errorf("store holds %d sessions, want 1", n)
	}
}

func TestManagerExpiry(t *testing.T) {
	const lifetime, idle = 4 * time.Hour, 30 * time.Minute
	tests := []struct {
		name    string
		policy  session.Policy
		steps   []time.Duration // Seen after each step
		then    time.Duration
		wantErr error
	}{
		{"before lifetime", session.Policy{Lifetime: lifetime}, nil, lifetime - time.Second, nil},
		{"at lifetime", session.Policy{Lifetime: lifetime}, nil, lifetime, session.ErrExpired},
		{"after lifetime", session.Policy{Lifetime: lifetime}, nil, lifetime + time.Hour, session.ErrExpired},
		{"idle up to the timeout", session.Policy{Lifetime: lifetime, IdleTimeout: idle}, nil, idle, nil},
		{"idle past the timeout", session.Policy{Lifetime: lifetime, IdleTimeout: idle}, nil, idle + time.Second, session.ErrExpired},
		{"activity keeps it alive", session.Policy{Lifetime: lifetime, IdleTimeout: idle},
			[]time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, 20 * time.Minute, nil},
		{"activity does not extend the lifetime", session.Policy{Lifetime: lifetime, IdleTimeout: idle},
			[]time.Duration{29 * time.Minute, 29 * time.Minute, 29 * time.Minute, 29 * time.Minute, 29 * time.Minute, 29 * time.Minute, 29 * time.Minute, 29 * time.Minute},
			29 * time.Minute, session.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.policy)
			mac := mustMAC(t, "da:a1:19:00:00:02")
			s, tok := h.create(t, mac.String(), "wifi4eu", "bahnhof")
			for _, d := range tt.steps {
				h.clock.Add(d)
				if _, err := h.m.Seen(s.ID, session.Activity{Location: "bahnhof"}); err != nil {
					t.Fatal(err)
				}
			}
			h.clock.Add(tt.then)
			for name, find := range map[string]func() (session.Session, error){
				"ByMAC":     func() (session.Session, error) { return h.m.ByMAC(mac) },
				"ByID":      func() (session.Session, error) { return h.m.ByID(s.ID) },
				"FromToken": func() (session.Session, error) { return h.m.FromToken(tok) },
			} {
				_, err := find()
				if tt.wantErr == nil && err != nil {
					t.Errorf("%s: %v, want live", name, err)
				}
				// FromToken may fail on the token itself once it has expired.
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !(name == "FromToken" && errors.Is(err, session.ErrTokenExpired)) {
					t.Errorf("%s: %v, want %v", name, err, tt.wantErr)
				}
			}
			st := h.m.Stats()
			if live := tt.wantErr == nil; (st.Active == 1) != live {
				t.Errorf("Stats.Active = %d with the session live=%v", st.Active, live)
			}
		})
	}
}

func TestManagerExpiredMACSignsInAgain(t *testing.T) {
	h := newHarness(t, session.Policy{Lifetime: time.Hour})
	s1, _ := h.create(t, "da:a1:19:00:00:03", "wifi4eu", "bahnhof")
	h.clock.Add(time.Hour)
	s2, _ := h.create(t, "da:a1:19:00:00:03", "wifi4eu", "bahnhof")
	if s2.ID == s1.ID {
		t.Fatal("an expired session was handed out again")
	}
	if got, err := h.m.ByMAC(mustMAC(t, "da:a1:19:00:00:03")); err != nil || got.ID != s2.ID {
		t.Errorf("ByMAC = %s, %v; want the new session %s", got.ID, err, s2.ID)
	}
	if !s2.Expires.Equal(h.clock.Now().Add(time.Hour)) {
		t.Errorf("new session expires %v", s2.Expires)
	}
}

func TestManagerRevoke(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	mac := mustMAC(t, "da:a1:19:00:00:04")
	s, tok := h.create(t, mac.String(), "wifi4eu", "bahnhof")
	other, _ := h.create(t, "da:a1:19:00:00:05", "wifi4eu", "bahnhof")
	if err := h.m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for name, find := range map[string]func() (session.Session, error){
		"ByMAC":     func() (session.Session, error) { return h.m.ByMAC(mac) },
		"ByID":      func() (session.Session, error) { return h.m.ByID(s.ID) },
		"FromToken": func() (session.Session, error) { return h.m.FromToken(tok) },
	} {
		if _, err := find(); !errors.Is(err, session.ErrRevoked) {
			t.Errorf("%s after Revoke: %v, want ErrRevoked", name, err)
		}
	}
	if _, err := h.m.ByID(other.ID); err != nil {
		t.Errorf("revoking one session touched another: %v", err)
	}
	if r, err := h.store.Get(ctx, s.ID); err != nil || !r.Revoked {
		t.Errorf("store: revoked=%v, %v", r.Revoked, err)
	}
	if st := h.m.Stats(); st.Active != 1 {
		t.Errorf("Stats.Active = %d, want 1", st.Active)
	}
	for _, id := range []string{"ffffffffffffffffffffffffffffffff", "not-an-id", ""} {
		if err := h.m.Revoke(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Revoke(%q): %v, want ErrNotFound", id, err)
		}
	}
	// A revoked device signing in again gets a new session.
	s2, _ := h.create(t, mac.String(), "wifi4eu", "bahnhof")
	if s2.ID == s.ID {
		t.Error("Create handed the revoked session out again")
	}
	// After a restart the revoked session is gone, not alive again.
	rep := h.restart(t)
	if rep.Loaded != 2 || rep.Rejected != 0 {
		t.Errorf("LoadReport = %+v, want 2 loaded", rep)
	}
	if _, err := h.m.ByID(s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("revoked session after restart: %v, want ErrNotFound", err)
	}
}

func TestManagerRebind(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	oldMAC := mustMAC(t, "da:a1:19:00:00:06")
	newMAC := mustMAC(t, "00:1a:2b:00:00:06") // the device now shows a global address
	s, tok := h.create(t, oldMAC.String(), "wifi4eu", "bahnhof")

	moved, newTok, err := h.m.Rebind(ctx, tok, newMAC)
	if err != nil {
		t.Fatal(err)
	}
	if moved.ID != s.ID || moved.MACKey != h.m.Hasher().Key(newMAC) || moved.RandomMAC {
		t.Errorf("Rebind = %+v", moved)
	}
	if _, err := h.m.ByMAC(oldMAC); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("old MAC after Rebind: %v, want ErrNotFound", err)
	}
	if got, err := h.m.ByMAC(newMAC); err != nil || got.ID != s.ID {
		t.Errorf("new MAC after Rebind: %s, %v", got.ID, err)
	}
	c, err := h.tokens.Verify(newTok)
	if err != nil {
		t.Fatalf("new token: %v", err)
	}
	if c.Subject != s.ID || c.MACKey != moved.MACKey {
		t.Errorf("new token sub=%s mk=%s, want %s %s", c.Subject, c.MACKey, s.ID, moved.MACKey)
	}
	if got, err := h.m.FromToken(newTok); err != nil || got.ID != s.ID {
		t.Errorf("FromToken(new) = %s, %v", got.ID, err)
	}
	if !moved.Expires.Equal(s.Expires) {
		t.Error("Rebind changed the expiry")
	}

	// The move is durable: after a restart the stored token matches the new MAC.
	rep := h.restart(t)
	if rep.Loaded != 1 || rep.Rejected != 0 {
		t.Fatalf("LoadReport after Rebind and restart = %+v, want 1 loaded", rep)
	}
	if got, err := h.m.ByMAC(newMAC); err != nil || got.ID != s.ID {
		t.Errorf("new MAC after restart: %s, %v", got.ID, err)
	}
	if _, err := h.m.ByMAC(oldMAC); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("old MAC after restart: %v, want ErrNotFound", err)
	}

	t.Run("refusals", func(t *testing.T) {
		if _, _, err := h.m.Rebind(ctx, newTok, mustMAC(t, "01:00:5e:00:00:01")); !errors.Is(err, session.ErrInvalidMAC) {
			t.Errorf("to a multicast MAC: %v, want ErrInvalidMAC", err)
		}
		if _, _, err := h.m.Rebind(ctx, "garbage", newMAC); !errors.Is(err, session.ErrTokenMalformed) {
			t.Errorf("with a bad token: %v, want ErrTokenMalformed", err)
		}
		if err := h.m.Revoke(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.m.Rebind(ctx, newTok, oldMAC); !errors.Is(err, session.ErrRevoked) {
			t.Errorf("a revoked session: %v, want ErrRevoked", err)
		}
		if _, err := h.m.ByMAC(oldMAC); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a refused Rebind bound the MAC: %v", err)
		}
	})
}

func TestManagerSeen(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s, _ := h.create(t, "da:a1:19:00:00:07", "wifi4eu", "bahnhof")
	steps := []struct {
		a         session.Activity
		wantLoc   string
		wantAP    string
		wantRoams int
		wantIn    uint64
	}{
		{session.Activity{Location: "bahnhof", AP: "ap-2", InputOctets: 100}, "bahnhof", "ap-2", 0, 100},
		{session.Activity{Location: "stadtpark", AP: "ap-9", InputOctets: 200}, "stadtpark", "ap-9", 1, 200},
		{session.Activity{Location: "stadtpark", AP: "ap-10"}, "stadtpark", "ap-10", 1, 200},
		{session.Activity{}, "stadtpark", "ap-10", 1, 200}, // an interim update without location
		{session.Activity{Location: "bahnhof"}, "bahnhof", "ap-10", 2, 200},
		{session.Activity{Location: "rathaus", AP: "ap-1", InputOctets: 5000}, "rathaus", "ap-1", 3, 5000},
	}
	for i, st := range steps {
		h.clock.Add(time.Minute)
		got, err := h.m.Seen(s.ID, st.a)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.CurrentLocation != st.wantLoc || got.AP != st.wantAP || got.Roams != st.wantRoams || got.InputOctets != st.wantIn {
			t.Errorf("step %d: location %s AP %s roams %d in %d; want %s %s %d %d",
				i, got.CurrentLocation, got.AP, got.Roams, got.InputOctets, st.wantLoc, st.wantAP, st.wantRoams, st.wantIn)
		}
		if !got.LastSeen.Equal(h.clock.Now()) {
			t.Errorf("step %d: LastSeen = %v, want %v", i, got.LastSeen, h.clock.Now())
		}
		if got.Location != "bahnhof" {
			t.Errorf("step %d: the starting location changed to %s", i, got.Location)
		}
	}
	// An older report does not move LastSeen back.
	last := h.clock.Now()
	if got, _ := h.m.Seen(s.ID, session.Activity{At: last.Add(-time.Hour)}); !got.LastSeen.Equal(last) {
		t.Errorf("a late report moved LastSeen to %v", got.LastSeen)
	}
	if _, err := h.m.Seen("ffffffffffffffffffffffffffffffff", session.Activity{Location: "x"}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Seen of an unknown session: %v, want ErrNotFound", err)
	}

	// Activity reaches the store: it is there after a restart.
	h.restart(t)
	got, err := h.m.ByID(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentLocation != "rathaus" || got.AP != "ap-1" || got.Roams != 3 || got.InputOctets != 5000 || !got.LastSeen.Equal(last) {
		t.Errorf("after restart: %+v", got)
	}
}

func TestManagerStats(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	a, _ := h.create(t, "da:a1:19:00:01:01", "wifi4eu", "bahnhof")
	h.create(t, "da:a1:19:00:01:02", "wifi4eu", "bahnhof")
	h.create(t, "da:a1:19:00:01:03", "city", "stadtpark")
	d, _ := h.create(t, "da:a1:19:00:01:04", "city", "rathaus")
	if _, err := h.m.Seen(a.ID, session.Activity{Location: "stadtpark"}); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Revoke(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	st := h.m.Stats()
	if st.Active != 3 {
		t.Errorf("Active = %d, want 3", st.Active)
	}
	wantLoc := map[string]int{"bahnhof": 1, "stadtpark": 2}
	wantNet := map[string]int{"wifi4eu": 2, "city": 1}
	if fmt.Sprint(st.ByLocation) != fmt.Sprint(wantLoc) {
		t.Errorf("ByLocation = %v, want %v", st.ByLocation, wantLoc)
	}
	if fmt.Sprint(st.ByNetwork) != fmt.Sprint(wantNet) {
		t.Errorf("ByNetwork = %v, want %v", st.ByNetwork, wantNet)
	}
}

// TestByMACSharedIsByMAC: the RADIUS server's lookup without a copy
// answers as ByMAC does for a live, an idle, a revoked and an unknown
// device, and the session it hands out is the index's immutable one: a
// move replaces it rather than changing what the caller holds.
func TestByMACSharedIsByMAC(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	h.create(t, "da:a1:19:00:03:01", "wifi4eu", "bahnhof")
	h.clock.Add(31 * time.Minute) // idle has been away longer than IdleTimeout
	live, _ := h.create(t, "da:a1:19:00:03:02", "wifi4eu", "bahnhof")
	revoked, _ := h.create(t, "da:a1:19:00:03:03", "wifi4eu", "bahnhof")
	if err := h.m.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mac  string
		want error
	}{{"da:a1:19:00:03:01", session.ErrExpired}, {"da:a1:19:00:03:02", nil}, {"da:a1:19:00:03:03", session.ErrRevoked}, {"da:a1:19:00:03:04", session.ErrNotFound}} {
		mac := mustMAC(t, c.mac)
		byValue, err1 := h.m.ByMAC(mac)
		shared, err2 := h.m.ByMACShared(mac)
		if !errors.Is(err1, c.want) || !errors.Is(err2, c.want) {
			t.Errorf("%s: ByMAC %v, ByMACShared %v, want %v", c.mac, err1, err2, c.want)
		}
		if err2 == nil && !reflect.DeepEqual(*shared.Session, byValue) {
			t.Errorf("%s: ByMACShared %+v, ByMAC %+v", c.mac, *shared.Session, byValue)
		}
		if err2 == nil {
			if id := string(shared.AppendID([]byte("Class="))); id != "Class="+byValue.ID {
				t.Errorf("%s: AppendID wrote %q, want the ID %s", c.mac, id, byValue.ID)
			}
			// The answer's one clock read is the Manager's.
			if at, left := shared.CheckedAt(), shared.TimeLeft(); !at.Equal(h.clock.Now()) || left != h.m.TimeLeft(byValue) || left <= 0 {
				t.Errorf("%s: checked at %v with %v left, want %v with %v", c.mac, at, left, h.clock.Now(), h.m.TimeLeft(byValue))
			}
		}
	}
	held, err := h.m.ByMACShared(mustMAC(t, "da:a1:19:00:03:02"))
	if err != nil {
		t.Fatal(err)
	}
	before := *held.Session
	if _, err := h.m.Seen(live.ID, session.Activity{Location: "stadtpark", AP: "ap-stadtpark"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*held.Session, before) {
		t.Errorf("a move changed the session a caller holds: %+v, was %+v", *held.Session, before)
	}
	if now, err := h.m.ByMACShared(mustMAC(t, "da:a1:19:00:03:02")); err != nil || string(now.AppendID(nil)) != live.ID {
		t.Errorf("after the move AppendID wrote %q (%v), want %s", now.AppendID(nil), err, live.ID)
	}
	if now, err := h.m.ByMACShared(mustMAC(t, "da:a1:19:00:03:02")); err != nil || now.CurrentLocation != "stadtpark" {
		t.Errorf("after the move: %+v, %v; want the session at stadtpark", now, err)
	}
}

func TestManagerSweep(t *testing.T) {
	h := newHarness(t, session.Policy{Lifetime: time.Hour, IdleTimeout: 0})
	ctx := context.Background()
	old, _ := h.create(t, "da:a1:19:00:02:01", "wifi4eu", "bahnhof")
	h.clock.Add(30 * time.Minute)
	revoked, _ := h.create(t, "da:a1:19:00:02:02", "wifi4eu", "bahnhof")
	young, _ := h.create(t, "da:a1:19:00:02:03", "wifi4eu", "bahnhof")
	if err := h.m.Revoke(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(31 * time.Minute) // old has ended
	n, err := h.m.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Sweep = %d, want 2", n)
	}
	for _, id := range []string{old.ID, revoked.ID} {
		if _, err := h.m.ByID(id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("ByID of a swept session: %v, want ErrNotFound", err)
		}
		if _, err := h.store.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("store still holds swept session: %v", err)
		}
	}
	if _, err := h.m.ByID(young.ID); err != nil {
		t.Errorf("Sweep removed a live session: %v", err)
	}
}

func TestManagerSurvivesRestart(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	type signedIn struct {
		s   session.Session
		tok string
		mac session.MAC
	}
	var all []signedIn
	for i := range 5 {
		mac := mustMAC(t, fmt.Sprintf("da:a1:19:00:03:%02x", i))
		s, tok := h.create(t, mac.String(), "wifi4eu", "bahnhof")
		all = append(all, signedIn{s, tok, mac})
	}
	h.clock.Add(time.Minute)
	rep := h.restart(t)
	if rep != (session.LoadReport{Loaded: 5}) {
		t.Errorf("LoadReport = %+v, want 5 loaded", rep)
	}
	for _, x := range all {
		for name, find := range map[string]func() (session.Session, error){
			"ByMAC":     func() (session.Session, error) { return h.m.ByMAC(x.mac) },
			"ByID":      func() (session.Session, error) { return h.m.ByID(x.s.ID) },
			"FromToken": func() (session.Session, error) { return h.m.FromToken(x.tok) },
		} {
			got, err := find()
			if err != nil {
				t.Errorf("%s %s after restart: %v", name, x.s.ID, err)
			} else if got != x.s {
				t.Errorf("%s after restart = %+v, want %+v", name, got, x.s)
			}
		}
	}
	// Sessions that ended while the gateway was down are not loaded.
	h.clock.Add(4 * time.Hour)
	if rep := h.restart(t); rep.Loaded != 0 {
		t.Errorf("LoadReport after the lifetime = %+v, want none loaded", rep)
	}
}

// TestManagerRefusesTamperedRecords edits the database file behind the
// gateway's back: no edit may turn into access.
func TestManagerRefusesTamperedRecords(t *testing.T) {
	intruder := mustMAC(t, "00:0b:ad:00:00:01")
	tests := []struct {
		name         string
		tamper       func(t *testing.T, h *harness, victim, bystander session.Session)
		wantRejected int
		// lookup is how an attacker would hope to get in afterwards.
		lookup func(h *harness, victim session.Session) error
	}{
		{"MAC key moved to another device",
			func(t *testing.T, h *harness, v, _ session.Session) {
				hasher, err := session.NewHasher(h.key)
				if err != nil {
					t.Fatal(err)
				}
				h.sql(t, "UPDATE sessions SET mac_key = ? WHERE id = ?", string(hasher.Key(intruder)), v.ID)
			}, 1,
			func(h *harness, _ session.Session) error {
				_, err := h.m.ByMAC(intruder)
				return err
			}},
		{"sealed token flipped",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET sealed_token = CAST(substr(sealed_token, 1, 20) || x'00' || substr(sealed_token, 22) AS BLOB) WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"sealed token emptied",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET sealed_token = x'' WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"ID changed",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET id = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, _ session.Session) error {
				_, err := h.m.ByID("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
				return err
			}},
		{"sealed token copied from another session",
			func(t *testing.T, h *harness, v, b session.Session) {
				h.sql(t, "UPDATE sessions SET sealed_token = (SELECT sealed_token FROM sessions WHERE id = ?), mac_key = (SELECT mac_key FROM sessions WHERE id = ?) WHERE id = ?", b.ID, b.ID, v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"revocation undone",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.start(t)
				if err := h.m.Revoke(context.Background(), v.ID); err != nil {
					t.Fatal(err)
				}
				h.stop(t)
				h.sql(t, "UPDATE sessions SET revoked = 0 WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"moved to another network", // issue 11 item 9: other bandwidth, other lifetime
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET network = 'city' WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"crisis flag flipped",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET crisis = 1 WHERE id = ?", v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"created later (to win a shared MAC at load)",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET created = created + ? WHERE id = ?", int64(2*time.Hour), v.ID)
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
		{"expiry extended",
			func(t *testing.T, h *harness, v, _ session.Session) {
				h.sql(t, "UPDATE sessions SET expires = expires + ? WHERE id = ?", int64(24*time.Hour), v.ID)
				h.clock.Add(3*time.Hour + time.Minute) // the victim's token has expired, the bystander's not
			}, 1,
			func(h *harness, v session.Session) error { _, err := h.m.ByID(v.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, session.Policy{Lifetime: 4 * time.Hour})
			victim, _ := h.create(t, "da:a1:19:00:04:01", "wifi4eu", "bahnhof")
			h.clock.Add(time.Hour)
			bystander, _ := h.create(t, "da:a1:19:00:04:02", "wifi4eu", "bahnhof")
			h.stop(t)
			tt.tamper(t, h, victim, bystander)
			rep := h.start(t)
			if rep.Rejected != tt.wantRejected || rep.Loaded != 1 {
				t.Errorf("LoadReport = %+v, want %d rejected and the bystander loaded", rep, tt.wantRejected)
			}
			if err := tt.lookup(h, victim); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("the tampered session is reachable: %v", err)
			}
			if _, err := h.m.ByID(bystander.ID); err != nil {
				t.Errorf("the bystander was lost: %v", err)
			}
		})
	}
}

// failingStore fails the writes named in fail.
type failingStore struct {
	session.Store
	fail map[string]bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) Create(ctx context.Context, r session.Record) error {
	if f.fail["create"] {
		return errDisk
	}
	return f.Store.Create(ctx, r)
}

func (f *failingStore) Revoke(ctx context.Context, id string) error {
	if f.fail["revoke"] {
		return errDisk
	}
	return f.Store.Revoke(ctx, id)
}

func (f *failingStore) Rebind(ctx context.Context, id string, k session.MACKey, random bool, tok []byte) error {
	if f.fail["rebind"] {
		return errDisk
	}
	return f.Store.Rebind(ctx, id, k, random, tok)
}

// The store is written first: a failed write leaves the index unchanged.
func TestManagerStoreFailures(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	fs := &failingStore{fail: map[string]bool{}}
	h.wrap = func(s session.Store) session.Store { fs.Store = s; return fs }
	h.restart(t)
	ctx := context.Background()
	mac := mustMAC(t, "da:a1:19:00:05:01")
	other := mustMAC(t, "da:a1:19:00:05:02")

	fs.fail["create"] = true
	if _, _, err := h.m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true}); !errors.Is(err, errDisk) {
		t.Fatalf("Create: %v, want the store's error", err)
	}
	if _, err := h.m.ByMAC(mac); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("a failed Create is in the index: %v", err)
	}
	if st := h.m.Stats(); st.Active != 0 {
		t.Errorf("Stats.Active = %d after a failed Create", st.Active)
	}
	fs.fail["create"] = false

	s, tok := h.create(t, mac.String(), "wifi4eu", "bahnhof")
	fs.fail["revoke"] = true
	if err := h.m.Revoke(ctx, s.ID); !errors.Is(err, errDisk) {
		t.Errorf("Revoke: %v, want the store's error", err)
	}
	fs.fail["rebind"] = true
	if _, _, err := h.m.Rebind(ctx, tok, other); !errors.Is(err, errDisk) {
		t.Errorf("Rebind: %v, want the store's error", err)
	}
	if got, err := h.m.ByMAC(mac); err != nil || got.ID != s.ID {
		t.Errorf("after failed Revoke and Rebind: ByMAC = %s, %v; want the session unchanged", got.ID, err)
	}
	if _, err := h.m.ByMAC(other); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("a failed Rebind moved the MAC: %v", err)
	}
}

// ambiguousRevoke applies a revocation and then reports a failure, as a
// store does whose primary wrote it but whose answer was lost in a
// failover.
type ambiguousRevoke struct {
	session.Store
	lost bool
}

func (a *ambiguousRevoke) Revoke(ctx context.Context, id string) error {
	if err := a.Store.Revoke(ctx, id); err != nil || !a.lost {
		return err
	}
	a.lost = false
	return errDisk
}

// TestManagerRevokeRetried: a revocation whose answer was an error is
// retried; the retry succeeds (the store's write is idempotent) and so does
// a third, and the session ends — OnEnd, its event — exactly once.
func TestManagerRevokeRetried(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	as := &ambiguousRevoke{lost: true}
	h.wrap = func(s session.Store) session.Store { as.Store = s; return as }
	h.restart(t)
	ctx := context.Background()
	var ends, events atomic.Int32
	h.m.OnEnd(func(session.Session, session.EndReason) { ends.Add(1) })
	h.m.OnEvent(func(e session.Event) {
		if e.Kind == session.EventEnd {
			events.Add(1)
		}
	})
	s, _ := h.create(t, "da:a1:19:00:05:03", "wifi4eu", "bahnhof")
	if err := h.m.Revoke(ctx, s.ID); !errors.Is(err, errDisk) {
		t.Fatalf("first Revoke: %v, want the store's error", err)
	}
	for try := 2; try <= 3; try++ {
		if err := h.m.Revoke(ctx, s.ID); err != nil {
			t.Fatalf("Revoke, try %d: %v", try, err)
		}
		if _, err := h.m.ByID(s.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("after try %d ByID: %v, want ErrRevoked", try, err)
		}
	}
	if r, err := h.store.Get(ctx, s.ID); err != nil || !r.Revoked {
		t.Errorf("store: revoked=%v, %v", r.Revoked, err)
	}
	if n, m := ends.Load(), events.Load(); n != 1 || m != 1 {
		t.Errorf("the session ended %d times (OnEnd) with %d end events, want once", n, m)
	}
}

func TestManagerConcurrent(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	const workers, each = 8, 10
	errs := make(chan error, workers*each*4)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				mac := mustMAC(t, fmt.Sprintf("da:a1:19:%02x:%02x:00", w, i))
				s, tok, err := h.m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
				if err != nil {
					errs <- err
					return
				}
				if _, err := h.m.Seen(s.ID, session.Activity{Location: fmt.Sprintf("loc-%d", i%3)}); err != nil {
					errs <- err
				}
				if got, err := h.m.ByMAC(mac); err != nil || got.ID != s.ID {
					errs <- fmt.Errorf("by MAC: %s, %v", got.ID, err)
				}
				if _, err := h.m.FromToken(tok); err != nil {
					errs <- err
				}
				h.m.Stats()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := h.m.Stats(); st.Active != workers*each {
		t.Errorf("Active = %d, want %d", st.Active, workers*each)
	}
	if rep := h.restart(t); rep.Loaded != workers*each || rep.Rejected != 0 {
		t.Errorf("LoadReport = %+v", rep)
	}
}

func TestManagerUAMSecret(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	a, _ := h.create(t, "", "wifi4eu", "bahnhof")
	b, _ := h.create(t, "", "wifi4eu", "bahnhof")
	sa := h.m.UAMSecret(a.ID)
	if len(sa) != 16 || strings.Trim(sa, "0123456789abcdef") != "" {
		t.Errorf("UAMSecret = %q, want 16 hex digits (CoovaChilli PAP takes 16 octets)", sa)
	}
	if h.m.UAMSecret(a.ID) != sa {
		t.Error("UAMSecret is not stable")
	}
	if h.m.UAMSecret(b.ID) == sa {
		t.Error("two sessions share a UAM secret")
	}
	h.restart(t)
	if h.m.UAMSecret(a.ID) != sa {
		t.Error("UAMSecret changed across a restart")
	}
}

func TestNewManagerOptions(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	base := session.Options{Store: h.store, Tokens: h.tokens, SiteKey: h.key, Policy: defaultPolicy(), Logger: quiet}
	tests := []struct {
		name   string
		change func(o *session.Options)
	}{
		{"no store", func(o *session.Options) { o.Store = nil }},
		{"no tokens", func(o *session.Options) { o.Tokens = nil }},
		{"short site key", func(o *session.Options) { o.SiteKey = o.SiteKey[:16] }},
		{"no lifetime", func(o *session.Options) { o.Policy.Lifetime = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.change(&o)
			if m, _, err := session.NewManager(context.Background(), o); err == nil {
				m.Close()
				t.Error("NewManager accepted it")
			}
		})
	}
}

// orderedStore hands its live records to the manager in a chosen order: a
// Store promises no order.
type orderedStore struct {
	session.Store
	reverse bool
}

func (o *orderedStore) Live(ctx context.Context, now time.Time, fn func(session.Record) error) error {
	var all []session.Record
	if err := o.Store.Live(ctx, now, func(r session.Record) error { all = append(all, r); return nil }); err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b session.Record) int { return a.Created.Compare(b.Created) })
	if o.reverse {
		slices.Reverse(all)
	}
	for _, r := range all {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// A device whose session went idle signs in again and gets a new session;
// the idle one stays in the store until its lifetime ends. After a restart
// the device's MAC must lead to the new session, whatever order the store
// returns them in.
func TestManagerLoadOrderDoesNotMatter(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			h := newHarness(t, session.Policy{Lifetime: 4 * time.Hour, IdleTimeout: 30 * time.Minute})
			h.wrap = func(s session.Store) session.Store { return &orderedStore{Store: s, reverse: reverse} }
			mac := mustMAC(t, "da:a1:19:00:06:01")
			idle, _ := h.create(t, mac.String(), "wifi4eu", "bahnhof")
			h.clock.Add(31 * time.Minute)
			if _, err := h.m.ByMAC(mac); !errors.Is(err, session.ErrExpired) {
				t.Fatalf("ByMAC of the idle session: %v, want ErrExpired", err)
			}
			fresh, _ := h.create(t, mac.String(), "wifi4eu", "stadtpark")
			if fresh.ID == idle.ID {
				t.Fatal("the idle session was handed out again")
			}
			if rep := h.restart(t); rep.Loaded != 2 {
				t.Fatalf("LoadReport = %+v, want both sessions loaded", rep)
			}
			got, err := h.m.ByMAC(mac)
			if err != nil || got.ID != fresh.ID {
				t.Errorf("ByMAC after restart = %s, %v; want the new session %s", got.ID, err, fresh.ID)
			}
			if _, err := h.m.ByID(idle.ID); !errors.Is(err, session.ErrExpired) {
				t.Errorf("ByID of the idle session after restart: %v, want ErrExpired", err)
			}
		})
	}
}

func TestManagerAddressesAndNAS(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	phone, _ := h.create(t, "da:a1:19:00:05:01", "wifi4eu", "bahnhof")
	laptop, _ := h.create(t, "da:a1:19:00:05:02", "wifi4eu", "bahnhof")
	ip := netip.MustParseAddr("10.1.0.20")
	nas := session.NAS{Addr: netip.MustParseAddr("10.20.1.7"), ID: "stadtpark-ap-3", AcctSessionID: "A1"}

	if _, err := h.m.ByIP(ip); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("ByIP before accounting: %v", err)
	}
	if _, err := h.m.Seen(phone.ID, session.Activity{Location: "stadtpark", AP: "ap-3", NAS: nas, IP: ip,
		IPv6Prefix: netip.MustParsePrefix("2001:db8:1:2::/64")}); err != nil {
		t.Fatal(err)
	}
	got, err := h.m.ByIP(ip)
	if err != nil || got.ID != phone.ID || got.NAS != nas || got.CurrentLocation != "stadtpark" || got.Roams != 1 {
		t.Fatalf("ByIP after accounting = %+v, %v", got, err)
	}
	if got, err := h.m.ByIP(netip.MustParseAddr("2001:db8:1:2:aaaa::9")); err != nil || got.ID != phone.ID {
		t.Fatalf("ByIP of an address in the Framed-IPv6-Prefix = %+v, %v", got, err)
	}

	t.Run("the newest report of an address wins", func(t *testing.T) {
		h.clock.Add(time.Second) // newer, also for a restart to tell
		if _, err := h.m.Seen(laptop.ID, session.Activity{IP: ip}); err != nil {
			t.Fatal(err)
		}
		if got, err := h.m.ByIP(ip); err != nil || got.ID != laptop.ID {
			t.Fatalf("ByIP after the lease moved = %+v, %v", got, err)
		}
	})

	t.Run("device and NAS survive a restart, sealed", func(t *testing.T) {
		h.restart(t)
		got, err := h.m.ByID(phone.ID)
		if err != nil || got.NAS != nas || got.Device.IP != ip || !got.Device.HasMAC || got.Device.MAC != mustMAC(t, "da:a1:19:00:05:01") {
			t.Fatalf("after restart = %+v, %v", got, err)
		}
	})

	t.Run("Accounting-On from the NAS clears presence, not the session", func(t *testing.T) {
		if n := h.m.NASRestarted(netip.MustParseAddr("10.20.1.8"), ""); n != 0 {
			t.Fatalf("another NAS cleared %d sessions", n)
		}
		if n := h.m.NASRestarted(nas.Addr, "stadtpark-ap-3"); n != 1 {
			t.Fatalf("NASRestarted changed %d sessions, want 1", n)
		}
		got, err := h.m.ByID(phone.ID)
		if err != nil || got.CurrentLocation != "" || got.AP != "" || got.NAS != (session.NAS{}) {
			t.Fatalf("after Accounting-On = %+v, %v", got, err)
		}
		if st := h.m.Stats(); st.Active != 2 || st.ByLocation["stadtpark"] != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})

	t.Run("OnEnd hears revocation and expiry", func(t *testing.T) {
		var mu sync.Mutex
		ended := map[string]session.EndReason{}
		h.m.OnEnd(func(s session.Session, why session.EndReason) {
			mu.Lock()
			ended[s.ID] = why
			mu.Unlock()
		})
		if err := h.m.Revoke(ctx, laptop.ID); err != nil {
			t.Fatal(err)
		}
		// A revoked session releases its addresses at once (issue 11
		// item 2; it used to answer ErrRevoked until the next Sweep).
		if _, err := h.m.ByIP(ip); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("ByIP of a revoked session: %v, want ErrNotFound", err)
		}
		h.clock.Add(5 * time.Hour)
		if _, err := h.m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if ended[laptop.ID] != session.EndRevoked || ended[phone.ID] != session.EndExpired || len(ended) != 2 {
			t.Fatalf("ended = %v", ended)
		}
		if _, err := h.m.ByIP(ip); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("ByIP after sweep: %v", err)
		}
	})
}

func TestManagerEvents(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	var mu sync.Mutex
	var kinds []string
	h.m.OnEvent(func(e session.Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds = append(kinds, fmt.Sprintf("%s:%s:%s", e.Kind, e.Session.CurrentLocation, e.Reason))
	})
	s, tok := h.create(t, "da:a1:19:00:06:01", "wifi4eu", "bahnhof")
	h.createWith(t, tok, "da:a1:19:00:06:01", "wifi4eu", "bahnhof") // the same device again: no new sign-in
	for _, loc := range []string{"bahnhof", "stadtpark", "stadtpark", "rathaus"} {
		if _, err := h.m.Seen(s.ID, session.Activity{Location: loc}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := h.m.Rebind(ctx, tok, mustMAC(t, "da:a1:19:00:06:02")); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "signin:bahnhof: roam:stadtpark: roam:rathaus: rebind:rathaus: end:rathaus:revoked"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events = %s\nwant     %s", got, want)
	}
}

// touchFailing fails Touch while down is set: a store that went away.
type touchFailing struct {
	session.Store
	down atomic.Bool
}

func (f *touchFailing) Touch(ctx context.Context, id string, a session.Activity, roams int, dev []byte) error {
	if f.down.Load() {
		return errDisk
	}
	return f.Store.Touch(ctx, id, a, roams, dev)
}

// TestManagerActivityWhileStoreIsAway: the index keeps serving, the writes
// wait and land when the store is back, and nothing is lost.
func TestManagerActivityWhileStoreIsAway(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	fs := &touchFailing{}
	h.wrap = func(s session.Store) session.Store { fs.Store = s; return fs }
	h.noJournal = true // TestJournalKeepsMovesWhileTheStoreIsAway has the journal
	h.restart(t)
	s, _ := h.create(t, "da:a1:19:00:09:01", "wifi4eu", "bahnhof")
	fs.down.Store(true)
	if _, err := h.m.Seen(s.ID, session.Activity{Location: "stadtpark", InputOctets: 4242}); err != nil {
		t.Fatal(err)
	}
	pending := testtool.Poll(5*time.Second, func() bool {
		c := h.m.Counters()
		return c.ActivityPending > 0 && c.ActivityFailed > 0 && !c.StoreUp
	})
	if !pending {
		t.Fatalf("no failed write pending: %+v", h.m.Counters())
	}
	// The index serves the device from memory meanwhile, and says so.
	if got, err := h.m.ByID(s.ID); err != nil || got.CurrentLocation != "stadtpark" {
		t.Fatalf("index while the store is away = %+v, %v", got, err)
	}
	if c := h.m.Counters(); c.FailStatic != 1 || c.StoreUp {
		t.Fatalf("counters while the store is away = %+v, want one fail-static lookup", c)
	}
	fs.down.Store(false)
	var (
		r   session.Record
		err error
	)
	written := testtool.Poll(5*time.Second, func() bool {
		r, err = h.store.Get(context.Background(), s.ID)
		c := h.m.Counters()
		return err == nil && r.CurrentLocation == "stadtpark" && r.InputOctets == 4242 && c.ActivityPending == 0 && c.StoreUp
	})
	if !written {
		t.Fatalf("activity not written after the store came back: %+v %v %+v", r.Session, err, h.m.Counters())
	}
}

// TestManagerOldAssociation is the sequence a real CoovaChilli produced
// (issue 11 item 3): the phone roamed from the Bahnhof AP to the Stadtpark
// AP, and the Bahnhof AP went on reporting the association the phone had
// left (chilli keeps it until its Idle-Timeout). One roam, the session at
// the Stadtpark, its NAS the Stadtpark's — where a Disconnect must go.
func TestManagerOldAssociation(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s, _ := h.create(t, "da:a1:19:00:07:01", "wifi4eu", "bahnhof")
	bahnhof := session.NAS{Addr: netip.MustParseAddr("10.20.1.7"), ID: "bahnhof-ap-1"}
	stadtpark := session.NAS{Addr: netip.MustParseAddr("10.20.2.9"), ID: "stadtpark-ap-3"}
	atA, atB := bahnhof, stadtpark
	atA.AcctSessionID, atB.AcctSessionID = "A-0001", "B-0001"
	ipA := netip.MustParseAddr("10.1.0.20")
	steps := []struct {
		name string
		a    session.Activity
		// want after the step
		loc   string
		nas   session.NAS
		roams int
		in    uint64
	}{
		{"Start@A", session.Activity{Kind: session.ActivityStart, Location: "bahnhof", AP: "ap-a", NAS: atA, IP: ipA}, "bahnhof", atA, 0, 0},
		{"Interim@A", session.Activity{Kind: session.ActivityInterim, Location: "bahnhof", AP: "ap-a", NAS: atA, InputOctets: 100}, "bahnhof", atA, 0, 100},
		{"Access-Request@B", session.Activity{Kind: session.ActivityAccess, Location: "stadtpark", AP: "ap-b", NAS: stadtpark}, "stadtpark", stadtpark, 1, 100},
		{"Start@B", session.Activity{Kind: session.ActivityStart, Location: "stadtpark", AP: "ap-b", NAS: atB}, "stadtpark", atB, 1, 100},
		{"Interim@A", session.Activity{Kind: session.ActivityInterim, Location: "bahnhof", AP: "ap-a", NAS: atA, InputOctets: 900}, "stadtpark", atB, 1, 100},
		{"Interim@B", session.Activity{Kind: session.ActivityInterim, Location: "stadtpark", AP: "ap-b", NAS: atB, InputOctets: 50}, "stadtpark", atB, 1, 50},
		{"Stop@A", session.Activity{Kind: session.ActivityStop, Location: "bahnhof", AP: "ap-a", NAS: atA, InputOctets: 950}, "stadtpark", atB, 1, 50},
		{"Start@A again, delayed (older than B's association)", session.Activity{Kind: session.ActivityStart, Location: "bahnhof", AP: "ap-a",
			NAS: session.NAS{Addr: bahnhof.Addr, ID: bahnhof.ID, AcctSessionID: "A-0000"}, At: h.clock.Now().Add(-time.Hour)}, "stadtpark", atB, 1, 50},
	}
	for _, st := range steps {
		h.clock.Add(time.Minute)
		seenBefore := func() time.Time { got, _ := h.m.ByID(s.ID); return got.LastSeen }()
		got, err := h.m.SeenDurable(context.Background(), s.ID, st.a)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got.CurrentLocation != st.loc || got.NAS != st.nas || got.Roams != st.roams || got.InputOctets != st.in {
			t.Errorf("%s: at %s (NAS %+v), %d roams, %d octets in; want %s (%+v), %d, %d",
				st.name, got.CurrentLocation, got.NAS, got.Roams, got.InputOctets, st.loc, st.nas, st.roams, st.in)
		}
		if st.a.NAS == atA && st.loc == "stadtpark" && !got.LastSeen.Equal(seenBefore) {
			t.Errorf("%s: a report of the association the phone left moved LastSeen", st.name)
		}
	}
	if c := h.m.Counters(); c.StaleActivity != 3 {
		t.Errorf("StaleActivity = %d, want 3 (Interim@A, Stop@A, the delayed Start@A)", c.StaleActivity)
	}
	// A NAS that names no AP in its Access-Request, then does in its
	// accounting: the association's own reports are not taken for another's.
	park := session.NAS{Addr: netip.MustParseAddr("10.20.3.1"), ID: "park-ap"}
	h.clock.Add(time.Minute)
	if _, err := h.m.Seen(s.ID, session.Activity{Kind: session.ActivityAccess, Location: "stadtpark", NAS: park}); err != nil {
		t.Fatal(err)
	}
	park.AcctSessionID = "P-1"
	got, err := h.m.Seen(s.ID, session.Activity{Kind: session.ActivityInterim, Location: "stadtpark", AP: "ap-p", NAS: park, InputOctets: 7})
	if err != nil || got.NAS != park || got.AP != "ap-p" || got.InputOctets != 7 {
		t.Fatalf("Interim of the association an Access-Request without AP began: %+v, %v", got, err)
	}
	// The phone comes back to the Bahnhof: a new association there moves it.
	h.clock.Add(time.Minute)
	got, err = h.m.Seen(s.ID, session.Activity{Kind: session.ActivityAccess, Location: "bahnhof", AP: "ap-a", NAS: bahnhof})
	if err != nil || got.CurrentLocation != "bahnhof" || got.Roams != 2 {
		t.Fatalf("back at the Bahnhof: %+v, %v", got, err)
	}
	// Reports of the Stadtpark association the phone left still do not
	// pull the session there, even after that AP restarted.
	h.m.NASRestarted(stadtpark.Addr, "")
	got, err = h.m.Seen(s.ID, session.Activity{Kind: session.ActivityInterim, Location: "stadtpark", AP: "ap-b", NAS: atB})
	if err != nil || got.CurrentLocation != "bahnhof" || got.Roams != 2 {
		t.Fatalf("Interim@B after B's restart: %+v, %v", got, err)
	}
	h.restart(t)
	if got, err := h.m.ByID(s.ID); err != nil || got.CurrentLocation != "bahnhof" || got.Roams != 2 || got.NAS.Addr != bahnhof.Addr {
		t.Errorf("after a restart: %+v, %v", got, err)
	}
}

// TestManagerLastSeenIsSealed: LastSeen keeps a session from going idle, so
// a database edit that moves it later must not bring an idle session back;
// the value sealed with the device wins over the column.
func TestManagerLastSeenIsSealed(t *testing.T) {
	h := newHarness(t, defaultPolicy()) // idle after 30 minutes
	s, _ := h.create(t, "da:a1:19:00:0d:01", "wifi4eu", "bahnhof")
	h.clock.Add(10 * time.Minute)
	if _, err := h.m.Seen(s.ID, session.Activity{Location: "bahnhof"}); err != nil {
		t.Fatal(err)
	}
	seen := h.clock.Now()
	h.stop(t)
	h.clock.Add(time.Hour) // idle by now
	h.sql(t, "UPDATE sessions SET last_seen = ? WHERE id = ?", h.clock.Now().UnixNano(), s.ID)
	if rep := h.start(t); rep.Loaded != 1 {
		t.Fatalf("LoadReport = %+v", rep)
	}
	got, err := h.m.ByID(s.ID)
	if !errors.Is(err, session.ErrExpired) || !got.LastSeen.Equal(seen) {
		t.Errorf("after moving last_seen on disk: LastSeen %v, %v; want the sealed %v and idle", got.LastSeen, err, seen)
	}
}
