package session

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SiteKeyFile is the name of the site key in the data directory.
const SiteKeyFile = "site.key"

// LoadOrCreateSiteKey returns the site key kept in dir, generating a random
// 32-byte key (mode 0600) on first start. The key never leaves the data
// directory: every MAC key and sealed token depends on it.
func LoadOrCreateSiteKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, SiteKeyFile)
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) != 32 {
			return nil, fmt.Errorf("session: site key %s: has %d bytes, want 32", path, len(key))
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("session: site key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("session: site key: %w", err)
	}
	if err := writeFileAtomic(path, key); err != nil {
		return nil, fmt.Errorf("session: site key: %w", err)
	}
	return key, nil
}

// writeFileAtomic writes data to path with mode 0600 so that a crash leaves
// either the old or the new file, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
