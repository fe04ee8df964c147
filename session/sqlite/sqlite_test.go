package sqlite_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sqlite"
	"roamgate/session/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (session.Store, func(t *testing.T) session.Store) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		reopen := func(t *testing.T) session.Store { return open(t, path) }
		return open(t, path), reopen
	})
}

// newRecord is a record the way the Manager writes one.
func newRecord(t testing.TB) session.Record {
	t.Helper()
	sealed := make([]byte, 300) // a sealed EdDSA JWT is about this long
	if _, err := rand.Read(sealed); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	return session.Record{
		Session: session.Session{
			ID: storetest.NewID(t), MACKey: session.MACKey(storetest.NewID(t) + storetest.NewID(t)),
			Network: "wifi4eu", Location: "bahnhof", CurrentLocation: "bahnhof", AP: "ap-1",
			Created: now, Expires: now.Add(24 * time.Hour), LastSeen: now,
		},
		SealedToken: sealed,
	}
}

func TestFileMode(t *testing.T) {
	// The directory does not exist yet: Open creates it, 0700.
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "sessions.db")
	s := open(t, path)
	defer s.Close()
	// A write makes sure the WAL and shared-memory files exist.
	if err := s.Create(context.Background(), newRecord(t)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want fs.FileMode
	}{
		{dir, fs.ModeDir | 0o700},
		{path, 0o600},
		{path + "-wal", 0o600},
		{path + "-shm", 0o600},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != tt.want {
				t.Errorf("mode = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not an SQLite database, just some bytes that are long enough to have a header"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"parent is a file", filepath.Join(notADir, "sessions.db")},
		{"not a database", garbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(context.Background(), tt.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if got := err.Error(); len(got) < 8 || got[:8] != "sqlite: " {
				t.Errorf("error %q lacks the package prefix", got)
			}
		})
	}
}

// Paths reach SQLite as file: URIs; characters that mean something in a URI
// must not change which file is opened.
func TestOddPaths(t *testing.T) {
	for _, name := range []string{"with space.db", "q?mark.db", "hash#tag.db", "per%25cent.db", "amp&mode=ro.db", "ümlaut.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			r := newRecord(t)
			s := open(t, path)
			if err := s.Create(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database not at the given path: %v", err)
			}
			s = open(t, path)
			defer s.Close()
			if _, err := s.Get(context.Background(), r.ID); err != nil {
				t.Errorf("Get after reopen: %v", err)
			}
		})
	}
}

func TestErrorsWrapped(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	_, err := s.Get(context.Background(), storetest.NewID(t))
	if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if got, want := err.Error(), "sqlite: get: "+session.ErrNotFound.Error(); got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
}

// BenchmarkCreate is a durable sign-in: one committed, fsynced insert.
func BenchmarkCreate(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "sessions.db"))
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := newRecord(b)
		b.StartTimer()
		if err := s.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateParallel shows what concurrent sign-ins cost: 64 callers
// per core, as a portal under load has, so group commit can batch them.
func BenchmarkCreateParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "sessions.db"))
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Create(ctx, newRecord(b)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestGroupCommit sends many concurrent Creates, some with the same ID, so
// that they share transactions: every ID is stored once, exactly one of its
// Creates succeeds and the others get ErrExists, and a Create after Close
// fails instead of hanging.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := open(t, path)
	ctx := context.Background()
	const ids, copies = 200, 3
	recs := make([]session.Record, ids)
	for i := range recs {
		recs[i] = newRecord(t)
	}
	var ok, exists atomic.Int64
	var wg sync.WaitGroup
	for c := range copies {
		for i := range recs {
			wg.Go(func() {
				err := s.Create(ctx, recs[(i+c*7)%ids])
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, session.ErrExists):
					exists.Add(1)
				default:
					t.Errorf("Create: %v", err)
				}
			})
		}
	}
	wg.Wait()
	if ok.Load() != ids || exists.Load() != ids*(copies-1) {
		t.Fatalf("%d created, %d ErrExists; want %d and %d", ok.Load(), exists.Load(), ids, ids*(copies-1))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newRecord(t)); err == nil {
		t.Fatal("Create after Close succeeded")
	}
	s = open(t, path)
	defer s.Close()
	for _, r := range recs {
		if _, err := s.Get(ctx, r.ID); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
	}
}

// BenchmarkTouchMany is the background writes of moves at city scale:
// 100 000 sessions, and the Manager's writer handing the store 700 moved
// sessions at a time (100 ms of make bench-radius's roaming load), each a
// random session; the time per touch includes the Close that writes the
// last of them into the sessions rows.
//
//	go test -run '^$' -bench TouchMany -benchtime 300000x ./session/sqlite/
func BenchmarkTouchMany(b *testing.B) {
	const sessions, perCall = 100_000, 700
	path := filepath.Join(b.TempDir(), "sessions.db")
	s := open(b, path)
	ids := make([]string, sessions)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < sessions; i += 64 {
				r := newRecord(b)
				r.SealedDevice = make([]byte, 60)
				ids[i] = r.ID
				if err := s.Create(context.Background(), r); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		b.Fatalf("%d creates failed", failed.Load())
	}
	device := make([]byte, 60)
	touches := make([]session.Touch, perCall)
	errs := make([]error, perCall)
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	startCPU := testtool.ProcessCPU(b)
	for done := 0; done < b.N; done += perCall {
		for j := range touches {
			at = at.Add(time.Microsecond)
			touches[j] = session.Touch{ID: ids[(done+j)*7919%sessions], Roams: done + j, SealedDevice: device,
				Activity: session.Activity{At: at, Location: "loc001", AP: "02-AA-00-00-01-07", NAS: session.NAS{ID: "loc001-ap07"}}}
		}
		s.TouchMany(context.Background(), touches, errs)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(testtool.ProcessCPU(b)-startCPU)/float64(b.N), "cpu-ns/touch")
}
