package session_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roamgate/session"
)

func TestSiteKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet
	key, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 {
		t.Errorf("key has %d bytes, want 32", len(key))
	}
	if bytes.Equal(key, make([]byte, 32)) {
		t.Error("key is all zeros")
	}
	path := filepath.Join(dir, session.SiteKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode = %v (%v), want 0700", di.Mode(), err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, key) {
		t.Errorf("file holds %x (%v), want the returned key", onDisk, err)
	}
	for i := range 3 {
		again, err := session.LoadOrCreateSiteKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, key) {
			t.Fatalf("call %d returned another key", i+2)
		}
	}
	// Only the key file is left behind: no temporary files.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only %s", len(entries), session.SiteKeyFile)
	}
	// Another directory gets another key.
	other, err := session.LoadOrCreateSiteKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Error("two data directories got the same key")
	}
}

func TestSiteKeyRejectsDamagedFile(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, session.SiteKeyFile), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := session.LoadOrCreateSiteKey(dir); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
			t.Errorf("%d-byte key file: err = %v, want a session error", n, err)
		}
	}
	// An unreadable key is an error, not a reason to make a new key.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, session.SiteKeyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadOrCreateSiteKey(dir); err == nil {
		t.Error("a directory in place of the key file was accepted")
	}
	if fi, err := os.Stat(filepath.Join(dir, session.SiteKeyFile)); err != nil || fi.Mode()&fs.ModeDir == 0 {
		t.Error("the unreadable key was replaced")
	}
}
