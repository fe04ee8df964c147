package storetest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"roamgate/session"
	"roamgate/session/sessiontest"
)

// sealV1 holds two sessions as roamgate sealed them before issue 11 (seal
// version 1: the token bound to ID, MAC key and expiry; a 41-byte device),
// written by a test run at commit 841feba against its own SQLite store and
// dumped field by field: a database from before the upgrade.
//
//go:embed testdata/seal-v1.json
var sealV1 []byte

type sealFixture struct {
	SiteKey []byte    `json:"site_key"`
	Now     time.Time `json:"now"`
	Records []struct {
		ID, MACKey                    string
		RandomMAC                     bool
		Network, Location             string
		CurrentLocation, AP           string
		Created, Expires, LastSeen    time.Time
		InputOctets, OutputOctets     uint64
		Roams                         int
		Crisis                        bool
		NASAddr, NASID, AcctSessionID string
		SealedToken, SealedDevice     []byte
		// MAC and IP are what the device was (not stored).
		MAC, IP string
	} `json:"records"`
}

func loadSealV1(t *testing.T) (sealFixture, []session.Record) {
	t.Helper()
	var f sealFixture
	if err := json.Unmarshal(sealV1, &f); err != nil {
		t.Fatalf("seal-v1.json: %v", err)
	}
	var recs []session.Record
	for _, r := range f.Records {
		rec := session.Record{Session: session.Session{
			ID: r.ID, MACKey: session.MACKey(r.MACKey), RandomMAC: r.RandomMAC, Network: r.Network, Location: r.Location,
			CurrentLocation: r.CurrentLocation, AP: r.AP, Created: r.Created, Expires: r.Expires, LastSeen: r.LastSeen,
			InputOctets: r.InputOctets, OutputOctets: r.OutputOctets, Roams: r.Roams, Crisis: r.Crisis,
			NAS: session.NAS{ID: r.NASID, AcctSessionID: r.AcctSessionID},
		}, SealedToken: r.SealedToken, SealedDevice: r.SealedDevice}
		if r.NASAddr != "" {
			rec.NAS.Addr = netip.MustParseAddr(r.NASAddr)
		}
		recs = append(recs, rec)
	}
	return f, recs
}

// sealManager starts a Manager on store with the given site key and a clock
// standing at now; it is closed when the test ends, before the store.
func sealManager(t *testing.T, store session.Store, siteKey []byte, now *time.Time) (*session.Manager, session.LoadReport) {
	t.Helper()
	site := sessiontest.New(t, sessiontest.Options{
		Store: store, SiteKey: siteKey, Now: func() time.Time { return *now },
		Policy: session.Policy{Lifetime: 8 * time.Hour, IdleTimeout: 30 * time.Minute},
	})
	return site.Manager, site.Report
}

// testSealUpgrade: a store written before the seal covered every granting
// column still loads after the upgrade (issue 11 item 9), each record
// verified by what its version sealed and by the claims of its token; and
// an edit of what version 1 covered is still refused.
func testSealUpgrade(t *testing.T, open Opener) {
	f, recs := loadSealV1(t)
	h := start(t, open)
	for _, r := range recs {
		mustCreate(t, h, r)
	}
	now := f.Now.Add(5 * time.Minute)
	m, rep := sealManager(t, h, f.SiteKey, &now)
	if rep.Loaded != len(recs) || rep.Rejected != 0 || rep.Upgraded != len(recs) {
		t.Fatalf("LoadReport = %+v, want all %d loaded as sealed by version 1", rep, len(recs))
	}
	for _, r := range f.Records {
		mac, err := session.ParseMAC(r.MAC)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.ByMAC(mac)
		if err != nil || got.ID != r.ID || got.Network != r.Network {
			t.Errorf("ByMAC(%s) after the upgrade = %+v, %v; want session %s", r.MAC, got, err, r.ID)
		}
		if r.IP != "" && got.Device.IP != netip.MustParseAddr(r.IP) {
			t.Errorf("session %s lost its device's address: %+v", r.ID, got.Device)
		}
	}

	t.Run("what version 1 sealed is still checked", func(t *testing.T) {
		for _, tamper := range []struct {
			name string
			edit func(r *session.Record)
		}{
			{"expiry", func(r *session.Record) { r.Expires = r.Expires.Add(24 * time.Hour) }},
			{"MAC key", func(r *session.Record) { r.MACKey = session.MACKey(string(r.MACKey[1:]) + "0") }},
			{"creation, against the token's nbf", func(r *session.Record) { r.Created = r.Created.Add(time.Hour) }},
		} {
			t.Run(tamper.name, func(t *testing.T) {
				h := start(t, open)
				r := recs[0]
				tamper.edit(&r)
				mustCreate(t, h, r)
				_, rep := sealManager(t, h, f.SiteKey, &now)
				if rep.Loaded != 0 || rep.Rejected != 1 {
					t.Errorf("LoadReport = %+v, want the edited version-1 record refused", rep)
				}
			})
		}
	})

	t.Run("upgraded records take activity and new sessions join them", func(t *testing.T) {
		// Activity rewrites the device (now sealed with LastSeen) while the
		// token keeps its version-1 seal; a new session is sealed by the
		// current version. All of it loads again.
		id := recs[0].ID
		if _, err := m.SeenDurable(context.Background(), id, session.Activity{Location: "rathaus", InputOctets: 99}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", Location: "bahnhof"}); err != nil {
			t.Fatal(err)
		}
		m.Close()
		m, rep := sealManager(t, h, f.SiteKey, &now)
		if rep.Rejected != 0 || rep.Loaded != len(recs)+1 || rep.Upgraded != len(recs) {
			t.Fatalf("LoadReport after activity = %+v, want %d loaded, %d of them upgraded", rep, len(recs)+1, len(recs))
		}
		if got, err := m.ByID(id); err != nil || got.CurrentLocation != "rathaus" || got.InputOctets != 99 {
			t.Errorf("the upgraded session after activity and a restart: %+v, %v", got, err)
		}
	})
}

// testSealCoversColumns: a record edited in any column that grants
// something, or that says what was granted, no longer loads (issue 11 item
// 9: a row moved to another network used to); LastSeen moved later does not
// revive an idle session.
func testSealCoversColumns(t *testing.T, open Opener) {
	siteKey := make([]byte, 32)
	for i := range siteKey {
		siteKey[i] = byte(i * 7)
	}
	now := base
	h := start(t, open)
	m, _ := sealManager(t, h, siteKey, &now)
	mac, _ := session.ParseMAC("da:a1:19:00:0e:01")
	s, _, err := m.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	orig, err := h.Get(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, rep := sealManager(t, h, siteKey, &now); rep.Loaded != 1 || rep.Rejected != 0 || rep.Upgraded != 0 {
		t.Fatalf("untouched record: LoadReport = %+v", rep)
	}
	for _, tamper := range []struct {
		name string
		edit func(r *session.Record)
	}{
		{"moved to another network", func(r *session.Record) { r.Network = "stadt" }},
		{"crisis flag set", func(r *session.Record) { r.Crisis = true }},
		{"created later", func(r *session.Record) { r.Created = r.Created.Add(time.Hour) }},
		{"another start location", func(r *session.Record) { r.Location = "rathaus" }},
		{"random-MAC flag cleared", func(r *session.Record) { r.RandomMAC = false }},
		{"expiry later", func(r *session.Record) { r.Expires = r.Expires.Add(time.Hour) }},
		{"another MAC key", func(r *session.Record) { r.MACKey = session.MACKey(string(r.MACKey[1:]) + "0") }},
	} {
		t.Run(tamper.name, func(t *testing.T) {
			h := start(t, open)
			r := orig
			tamper.edit(&r)
			mustCreate(t, h, r)
			_, rep := sealManager(t, h, siteKey, &now)
			if rep.Loaded != 0 || rep.Rejected != 1 {
				t.Errorf("LoadReport = %+v, want the edited record refused", rep)
			}
		})
	}
	t.Run("last seen later", func(t *testing.T) {
		h := start(t, open)
		r := orig
		r.LastSeen = r.LastSeen.Add(2 * time.Hour)
		mustCreate(t, h, r)
		later := now.Add(2 * time.Hour) // idle since the real LastSeen
		m, rep := sealManager(t, h, siteKey, &later)
		if rep.Loaded != 1 {
			t.Fatalf("LoadReport = %+v", rep)
		}
		got, err := m.ByID(r.ID)
		if !errors.Is(err, session.ErrExpired) || !got.LastSeen.Equal(orig.LastSeen) {
			t.Errorf("LastSeen %v, %v; want the sealed %v, and the session idle", got.LastSeen, err, orig.LastSeen)
		}
	})
}
