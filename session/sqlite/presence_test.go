package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"roamgate/session"
)

// TestPresenceMigration: a database from before 0007_presence.sql, with a
// session whose moves were folded into its sessions row and one whose
// move is still in the log, opens with both as they were, and stays so
// through a fold.
func TestPresenceMigration(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "sessions.db")
	db, err := sql.Open("sqlite", dsn(file, map[string][]string{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	before := fstest.MapFS{}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if path.Base(name) < "0007" {
			data, err := fs.ReadFile(migrationFiles, name)
			if err != nil {
				t.Fatal(err)
			}
			before[name] = &fstest.MapFile{Data: data}
		}
	}
	if err := migrateFS(ctx, db, before); err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, db); v != 6 {
		t.Fatalf("user_version = %d before 0007, want 6", v)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	folded, logged := record(t, now), record(t, now)
	// As the fold before 0007 left a session that moved.
	folded.CurrentLocation, folded.AP, folded.Roams, folded.InputOctets = "stadtpark", "ap-3", 2, 1234
	folded.SealedDevice = []byte("device-folded")
	for _, r := range []session.Record{folded, logged} {
		args, err := createArgs(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(insertSQL, args...); err != nil {
			t.Fatal(err)
		}
	}
	req, err := touchReq(ctx, session.Touch{ID: logged.ID, Roams: 1, SealedDevice: []byte("device-logged"),
		Activity: session.Activity{At: now.Add(time.Minute), Location: "rathaus", AP: "ap-9", OutputOctets: 99}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(req.query, req.args...); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	logged.CurrentLocation, logged.AP, logged.Roams, logged.LastSeen = "rathaus", "ap-9", 1, now.Add(time.Minute)
	logged.OutputOctets, logged.SealedDevice = 99, []byte("device-logged")
	want := map[string]session.Record{folded.ID: folded, logged.ID: logged}

	s := openInternal(t, file)
	defer s.Close()
	ids := []string{folded.ID, logged.ID}
	sameRecords(t, "after the migration", everything(t, s, ids, now), want)
	if err := s.fold(ctx, false); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, "after the migration and a fold", everything(t, s, ids, now), want)
	var rows int
	if err := s.r.QueryRow(`SELECT count(*) FROM presence`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("%d rows in presence (%v), want one a session", rows, err)
	}
}
