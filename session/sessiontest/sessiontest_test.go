package sessiontest_test

import (
	"context"
	"testing"
	"time"

	"roamgate/session"
	"roamgate/session/sessiontest"
)

// TestSite: a Site is a working manager whose tokens carry production's
// issuer and audience, and a second Site on the same directory is a
// restart that finds the sessions of the first.
func TestSite(t *testing.T) {
	first := sessiontest.New(t, sessiontest.Options{})
	mac, _ := session.ParseMAC("02:00:5e:10:00:01")
	s, tok, err := first.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := first.Tokens.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != sessiontest.Issuer || len(claims.Audience) != 1 || claims.Audience[0] != sessiontest.Audience {
		t.Errorf("iss %q aud %v, want the site name %q issuing for the portal %q", claims.Issuer, claims.Audience, sessiontest.Issuer, sessiontest.Audience)
	}
	if got := s.Expires.Sub(s.Created); got != sessiontest.DefaultPolicy.Lifetime {
		t.Errorf("lifetime %v, want the default policy's %v", got, sessiontest.DefaultPolicy.Lifetime)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again := sessiontest.New(t, sessiontest.Options{Dir: first.Dir})
	if again.Report.Loaded != 1 {
		t.Fatalf("restart loaded %d sessions, want 1", again.Report.Loaded)
	}
	if got, err := again.ByMAC(mac); err != nil || got.ID != s.ID {
		t.Errorf("ByMAC after the restart: %+v, %v", got, err)
	}
}

// TestOptions: the policy and clock given are the ones the manager uses.
func TestOptions(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	site := sessiontest.New(t, sessiontest.Options{
		Policy: session.Policy{Lifetime: time.Hour, IdleTimeout: 10 * time.Minute},
		Now:    func() time.Time { return at },
	})
	s, _, err := site.Create(context.Background(), session.CreateRequest{Network: "wifi4eu"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created.Equal(at) || !s.Expires.Equal(at.Add(time.Hour)) {
		t.Errorf("created %v expires %v, want %v and an hour later", s.Created, s.Expires, at)
	}
}
