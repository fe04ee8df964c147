package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// KeyRingFile is the name of the token key ring in the data directory.
const KeyRingFile = "token-keys.json"

// KeyRing holds the Ed25519 keys that sign and verify session tokens. The
// newest key signs; a key that has been superseded keeps verifying until every
// token it could have signed has expired (retired + maxTokenAge).
type KeyRing struct {
	path        string
	maxTokenAge time.Duration

	mu   sync.RWMutex
	keys []ringKey // oldest first; the last one signs
}

type ringKey struct {
	ID      string    `json:"kid"`
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitzero"`
	Seed    []byte    `json:"seed"`

	priv ed25519.PrivateKey
}

type ringFile struct {
	Keys []ringKey `json:"keys"`
}

// OpenKeyRing loads the key ring from dir, creating it with one fresh key on
// first start. maxTokenAge is the longest lifetime any token may have; keys
// retired longer ago than that are dropped.
func OpenKeyRing(dir string, maxTokenAge time.Duration, now time.Time) (*KeyRing, error) {
	r := &KeyRing{path: filepath.Join(dir, KeyRingFile), maxTokenAge: maxTokenAge}
	data, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := r.Rotate(now); err != nil {
			return nil, err
		}
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("session: key ring: %w", err)
	}
	var f ringFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("session: key ring %s: %w", r.path, err)
	}
	for i := range f.Keys {
		k := &f.Keys[i]
		if len(k.Seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("session: key ring %s: key %q: seed has %d bytes, want %d", r.path, k.ID, len(k.Seed), ed25519.SeedSize)
		}
		k.priv = ed25519.NewKeyFromSeed(k.Seed)
		if want := thumbprint(k.priv.Public().(ed25519.PublicKey)); k.ID != want {
			return nil, fmt.Errorf("session: key ring %s: key %q does not match its key material", r.path, k.ID)
		}
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("session: key ring %s: holds no keys", r.path)
	}
	r.keys = r.live(f.Keys, now)
	return r, nil
}

// live drops the keys that can no longer have valid tokens out.
func (r *KeyRing) live(keys []ringKey, now time.Time) []ringKey {
	out := keys[:0:0]
	for _, k := range keys {
		if !k.Retired.IsZero() && now.After(k.Retired.Add(r.maxTokenAge)) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// Rotate adds a new signing key, retires the current one and writes the ring.
// Running gateways pick the new key up when they next open the ring.
func (r *KeyRing) Rotate(now time.Time) (kid string, err error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", fmt.Errorf("session: key ring: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	k := ringKey{ID: thumbprint(priv.Public().(ed25519.PublicKey)), Created: now.UTC(), Seed: seed, priv: priv}

	r.mu.Lock()
	defer r.mu.Unlock()
	keys := append([]ringKey(nil), r.keys...)
	if n := len(keys); n > 0 {
		keys[n-1].Retired = now.UTC()
	}
	keys = append(r.live(keys, now), k)
	data, err := json.MarshalIndent(ringFile{Keys: keys}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("session: key ring: %w", err)
	}
	if err := writeFileAtomic(r.path, data); err != nil {
		return "", fmt.Errorf("session: key ring: %w", err)
	}
	r.keys = keys
	return k.ID, nil
}

// signer returns the newest key.
func (r *KeyRing) signer() ringKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[len(r.keys)-1]
}

// verifier returns the public key with the given ID if it may still verify.
func (r *KeyRing) verifier(kid string, now time.Time) (ed25519.PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := len(r.keys) - 1; i >= 0; i-- {
		k := r.keys[i]
		if k.ID != kid {
			continue
		}
		if !k.Retired.IsZero() && now.After(k.Retired.Add(r.maxTokenAge)) {
			return nil, false
		}
		return k.priv.Public().(ed25519.PublicKey), true
	}
	return nil, false
}

// KeyIDs lists the IDs of the keys in the ring, oldest first.
func (r *KeyRing) KeyIDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return ids
}

// JWK is one public key in a JSON Web Key Set (RFC 7517, RFC 8037).
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// JWKS is a JSON Web Key Set, served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys of the ring, newest first. A key that has
// stopped verifying stays listed until the ring is next opened or rotated;
// listing a public key a little longer is harmless.
func (r *KeyRing) JWKS() JWKS {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := JWKS{Keys: make([]JWK, 0, len(r.keys))}
	for i := len(r.keys) - 1; i >= 0; i-- {
		k := r.keys[i]
		set.Keys = append(set.Keys, JWK{
			KeyType: "OKP", Curve: "Ed25519", Use: "sig", Algorithm: "EdDSA", KeyID: k.ID,
			X: base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)),
		})
	}
	return set
}

// thumbprint is the RFC 7638 JWK thumbprint, used as the key ID so that a kid
// names its key material and cannot be reassigned.
func thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
