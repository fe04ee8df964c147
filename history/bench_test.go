package history

import (
	"context"
	"fmt"
	"testing"
	"time"

	"roamgate/session"
)

// BenchmarkRecord is the history's write path: events queued with Record
// (what session.Manager.OnEvent calls on the sign-in and RADIUS paths) and
// written in batches by the background writer, per event.
// With 400 access points (a town's 50 places × 8, as make bench-radius
// has them) a batch upserts more hourly rows than with 40.
func BenchmarkRecord(b *testing.B) {
	for _, aps := range []int{40, 400} {
		b.Run(fmt.Sprintf("aps=%d", aps), func(b *testing.B) { benchmarkRecord(b, aps) })
	}
}

func benchmarkRecord(b *testing.B, aps int) {
	r, err := Open(context.Background(), Options{Path: b.TempDir() + "/history.db"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	now := time.Now()
	events := make([]session.Event, 1024)
	for i := range events {
		kind := session.EventSignIn
		if i%4 == 0 {
			kind = session.EventRoam
		}
		events[i] = session.Event{Kind: kind, At: now, Session: session.Session{
			ID: fmt.Sprintf("%032x", i), MACKey: session.MACKey(fmt.Sprintf("key-%d", i)),
			Network: "wifi4eu", Location: "bahnhof", CurrentLocation: "stadtpark", AP: fmt.Sprintf("ap-%d", i%aps),
		}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(events[i%len(events)])
		if i%4096 == 4095 { // stay below the queue size, as a real burst would
			if err := r.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := r.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	{
		var n int
		if err := r.db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != b.N {
			b.Fatalf("%d raw events for %d recorded (%v)", n, b.N, err)
		}
	}
}

// BenchmarkSeries is a dashboard's history read: 24 hourly and 30 daily
// buckets over a month of hourly rows for 40 access points.
func BenchmarkSeries(b *testing.B) {
	r, err := Open(context.Background(), Options{Path: b.TempDir() + "/history.db", Zone: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	now := time.Now().UTC()
	for h := 0; h < 30*24; h++ {
		at := now.Add(-time.Duration(h) * time.Hour)
		for ap := 0; ap < 40; ap++ {
			r.Record(session.Event{Kind: session.EventSignIn, At: at, Session: session.Session{
				ID: fmt.Sprintf("%032x", h*40+ap), Network: "wifi4eu", Location: "bahnhof", AP: fmt.Sprintf("ap-%d", ap)}})
		}
		if h%50 == 0 {
			r.Flush(context.Background())
		}
	}
	if err := r.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Series(ctx, now.Add(-23*time.Hour), now, Hour); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Series(ctx, now.AddDate(0, 0, -29), now, Day); err != nil {
			b.Fatal(err)
		}
	}
}
