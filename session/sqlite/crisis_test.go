package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"roamgate/session"
)

// TestCrisisRoundTrip: the crisis state and the crisis mark of sessions
// survive closing and reopening the file.
func TestCrisisRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.LoadCrisis(ctx); err != nil || c.Active || !c.Since.IsZero() {
		t.Fatalf("LoadCrisis on a new file: %+v, %v; want the zero state", c, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	on := session.Crisis{Active: true, Since: now, Until: now.Add(time.Hour), By: "ops",
		Message: map[string]string{"de": "Hochwasser", "ar": "فيضان"},
		Links:   []session.CrisisLink{{Title: "NINA", URL: "https://warnung.bund.de/"}}}
	off := session.Crisis{Since: now.Add(time.Minute), By: "leitstelle"}
	r := session.Record{Session: session.Session{ID: "c0ffee00000000000000000000000001", Created: now, Expires: now.Add(time.Hour), LastSeen: now, Crisis: true}}
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []session.Crisis{on, off} {
		if err := s.SaveCrisis(ctx, want); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(ctx, path); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadCrisis(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Active != want.Active || !got.Since.Equal(want.Since) || !got.Until.Equal(want.Until) || got.By != want.By ||
			got.Message["ar"] != want.Message["ar"] || len(got.Links) != len(want.Links) {
			t.Fatalf("LoadCrisis = %+v, want %+v", got, want)
		}
	}
	back, err := s.Get(ctx, r.ID)
	if err != nil || !back.Crisis {
		t.Fatalf("crisis session after reopening: %+v, %v", back.Session, err)
	}
	s.Close()
}
