package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"roamgate/admin"
	"roamgate/session"
)

// version is set with -ldflags "-X roamgate/gateway.version=…" by releases.
var version = ""

// Version is the release version, else the module version or VCS revision.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// openKeys opens (creating on first use) the site key and the token key
// ring in the keys directory.
func openKeys(cfg Config) ([]byte, *session.KeyRing, error) {
	dir := cfg.KeysPath()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("keys_dir: %w", err)
	}
	siteKey, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		return nil, nil, err
	}
	ring, err := session.OpenKeyRing(dir, cfg.Policy().MaxLifetime(), time.Now())
	if err != nil {
		return nil, nil, err
	}
	return siteKey, ring, nil
}

// InitKeys creates the site key and the token key ring if they are missing
// and leaves existing ones alone, so that it can run before every start of a
// roaming domain's gateways. It returns the key directory and the key IDs.
func InitKeys(cfg Config) (dir string, kids []string, err error) {
	_, ring, err := openKeys(cfg)
	if err != nil {
		return "", nil, err
	}
	return cfg.KeysPath(), ring.KeyIDs(), nil
}

// RotateKeys adds a new token signing key to the key ring.
func RotateKeys(cfg Config) (string, error) {
	_, ring, err := openKeys(cfg)
	if err != nil {
		return "", err
	}
	return ring.Rotate(time.Now())
}

// derive returns a sub-key of the site key for one purpose, so that no two
// uses share key material.
func derive(siteKey []byte, purpose string) []byte {
	m := hmac.New(sha256.New, siteKey)
	m.Write([]byte("roamgate " + purpose))
	return m.Sum(nil)
}

// demoPasswordFile keeps the demo admin password between starts (mode 0600)
// so that the banner can print it; it is used only when admin.users is empty.
const demoPasswordFile = "demo-admin-password"

func demoAdmin(dataDir string) (password string, user admin.User, err error) {
	path := filepath.Join(dataDir, demoPasswordFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		password = strings.TrimSpace(string(b))
	case errors.Is(err, fs.ErrNotExist):
		raw := make([]byte, 12)
		if _, err := rand.Read(raw); err != nil {
			return "", user, err
		}
		password = base64.RawURLEncoding.EncodeToString(raw)
		if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
			return "", user, fmt.Errorf("demo admin password: %w", err)
		}
	default:
		return "", user, fmt.Errorf("demo admin password: %w", err)
	}
	hash, err := admin.HashPassword(password)
	if err != nil {
		return "", user, err
	}
	return password, admin.User{Name: "admin", PasswordHash: hash, Role: admin.Operator}, nil
}
