package history

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestCheckpointsElsewhere: a history given someone to checkpoint its WAL
// (the session store's syncer) asks them, with the file's path, and makes
// no automatic checkpoints; if they refuse, it makes them as SQLite does.
func TestCheckpointsElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  error
		wantWAL int
	}{
		{"taken", nil, 0},
		{"refused", errors.New("no syncer"), 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.db")
			var asked []string
			r, err := Open(context.Background(), Options{Path: path, Checkpoints: func(p string) error {
				asked = append(asked, p)
				return tc.refuse
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if len(asked) != 1 || asked[0] != path {
				t.Fatalf("asked to checkpoint %q, want [%s]", asked, path)
			}
			var auto int
			if err := r.db.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
				t.Fatal(err)
			}
			if auto != tc.wantWAL {
				t.Fatalf("wal_autocheckpoint = %d, want %d", auto, tc.wantWAL)
			}
		})
	}
}
