package redis_test

import (
	"context"
	"testing"
	"time"

	"roamgate/internal/redistest"
	"roamgate/session"
)

// TestCrisisSharedAndAnnounced: a crisis saved through one connection is
// announced on the changes channel and read back through another; crisis
// sessions keep their mark.
func TestCrisisSharedAndAnnounced(t *testing.T) {
	srv := redistest.Start(t)
	a, b := open(t, srv, 0), open(t, srv, 0)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if c, err := b.LoadCrisis(ctx); err != nil || c.Active || !c.Since.IsZero() {
		t.Fatalf("LoadCrisis before any switch: %+v, %v; want the zero state", c, err)
	}
	changes := make(chan session.Change, 8)
	subscribed := make(chan struct{}, 1)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Watch(wctx, func(c session.Change) { changes <- c }, func() { subscribed <- struct{}{} })
	}()
	defer func() { stop(); <-done }()
	<-subscribed

	now := time.Now().UTC().Truncate(time.Second)
	want := session.Crisis{Active: true, Since: now, Until: now.Add(time.Hour), By: "ops",
		Message: map[string]string{"de": "Hochwasser", "uk": "Повінь"},
		Links:   []session.CrisisLink{{Title: "NINA", URL: "https://warnung.bund.de/"}}}
	if err := a.SaveCrisis(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-changes:
		if c.Kind != session.ChangeCrisis {
			t.Fatalf("change %+v, want %s", c, session.ChangeCrisis)
		}
	case <-ctx.Done():
		t.Fatal("no crisis change announced")
	}
	got, err := b.LoadCrisis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Active || !got.Since.Equal(want.Since) || !got.Until.Equal(want.Until) || got.By != want.By ||
		got.Message["uk"] != want.Message["uk"] || len(got.Links) != 1 || got.Links[0] != want.Links[0] {
		t.Fatalf("LoadCrisis = %+v, want %+v", got, want)
	}

	r := session.Record{Session: session.Session{ID: "c0ffee00000000000000000000000001", Created: now, Expires: now.Add(time.Hour), LastSeen: now, Crisis: true}}
	if err := a.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	back, err := b.Get(ctx, r.ID)
	if err != nil || !back.Crisis {
		t.Fatalf("crisis session read back: %+v, %v", back.Session, err)
	}
}
