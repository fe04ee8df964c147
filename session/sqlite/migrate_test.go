package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// rawDB is a writer connection without the store around it.
func rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), map[string][]string{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := userVersion(t, s.w); got != len(ms) {
		t.Errorf("user_version = %d, want %d", got, len(ms))
	}
	// Migrating again is a no-op, not a "table already exists" error.
	if err := migrate(context.Background(), s.w); err != nil {
		t.Errorf("second migrate: %v", err)
	}

	// The columns are exactly what session.Record holds: nothing in the clear.
	rows, err := s.r.Query("SELECT name FROM pragma_table_info('sessions') ORDER BY cid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if got, want := strings.Join(cols, ", "), strings.Join(strings.Fields(columns), " "); got != want {
		t.Errorf("columns = %s\nwant      %s", got, want)
	}
}

func TestPragmas(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		// NORMAL, without automatic checkpoints: the syncer process
		// fsyncs the WAL after every commit, and checkpoints it
		// (syncer.go; TestWithoutSyncerWritesFull for FULL).
		{s.w, "synchronous", "1"},
		{s.w, "wal_autocheckpoint", "0"},
		{s.w, "busy_timeout", "10000"},
		{s.r, "journal_mode", "wal"},
		{s.r, "query_only", "1"},
		{s.r, "busy_timeout", "10000"},
	}
	for _, tt := range tests {
		name := "writer"
		if tt.db == s.r {
			name = "reader"
		}
		t.Run(name+" "+tt.pragma, func(t *testing.T) {
			var got string
			if err := tt.db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		})
	}
	if _, err := s.r.Exec("DELETE FROM sessions"); err == nil {
		t.Error("the read pool can write")
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	one := &fstest.MapFile{Data: []byte("CREATE TABLE a (x INTEGER);\nCREATE TABLE b (y TEXT);")}
	two := &fstest.MapFile{Data: []byte("ALTER TABLE a ADD COLUMN z TEXT;")}
	broken := &fstest.MapFile{Data: []byte("CREATE TABLE c (x INTEGER); THIS IS NOT SQL;")}

	t.Run("in order, several statements a file", func(t *testing.T) {
		db := rawDB(t)
		// Added in the wrong order to the map: sorting is by number.
		fsys := fstest.MapFS{"migrations/0002_z.sql": two, "migrations/0001_ab.sql": one}
		if err := migrateFS(ctx, db, fsys); err != nil {
			t.Fatal(err)
		}
		if got := userVersion(t, db); got != 2 {
			t.Errorf("user_version = %d, want 2", got)
		}
		if !tableExists(t, db, "b") {
			t.Error("the second statement of 0001 did not run")
		}
		if _, err := db.Exec("INSERT INTO a (x, z) VALUES (1, 'z')"); err != nil {
			t.Errorf("0002 did not run: %v", err)
		}
	})
	t.Run("only the new ones", func(t *testing.T) {
		db := rawDB(t)
		if err := migrateFS(ctx, db, fstest.MapFS{"migrations/0001_ab.sql": one}); err != nil {
			t.Fatal(err)
		}
		if err := migrateFS(ctx, db, fstest.MapFS{"migrations/0001_ab.sql": one, "migrations/0002_z.sql": two}); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if got := userVersion(t, db); got != 2 {
			t.Errorf("user_version = %d, want 2", got)
		}
	})
	t.Run("a failing migration changes nothing", func(t *testing.T) {
		db := rawDB(t)
		err := migrateFS(ctx, db, fstest.MapFS{"migrations/0001_ab.sql": one, "migrations/0002_c.sql": broken})
		if err == nil || !strings.Contains(err.Error(), "0002_c.sql") {
			t.Fatalf("err = %v, want one naming 0002_c.sql", err)
		}
		if got := userVersion(t, db); got != 0 {
			t.Errorf("user_version = %d, want 0", got)
		}
		for _, table := range []string{"a", "b", "c"} {
			if tableExists(t, db, table) {
				t.Errorf("table %s exists after a failed migration", table)
			}
		}
	})
	t.Run("a newer database is refused", func(t *testing.T) {
		db := rawDB(t)
		if _, err := db.Exec("PRAGMA user_version = 7"); err != nil {
			t.Fatal(err)
		}
		err := migrateFS(ctx, db, fstest.MapFS{"migrations/0001_ab.sql": one})
		if err == nil || !strings.Contains(err.Error(), "newer") {
			t.Errorf("err = %v, want a newer-schema error", err)
		}
	})
	for _, tt := range []struct {
		name string
		fsys fstest.MapFS
	}{
		{"gap", fstest.MapFS{"migrations/0001_ab.sql": one, "migrations/0003_z.sql": two}},
		{"repeat", fstest.MapFS{"migrations/0001_ab.sql": one, "migrations/001_z.sql": two}},
		{"no number", fstest.MapFS{"migrations/ab.sql": one}},
		{"zero", fstest.MapFS{"migrations/0000_ab.sql": one}},
	} {
		t.Run("bad names/"+tt.name, func(t *testing.T) {
			if _, err := loadMigrations(tt.fsys); err == nil {
				t.Error("loadMigrations accepted them")
			}
		})
	}
}
