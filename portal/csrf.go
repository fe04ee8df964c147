package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// CSRF protection for POST /connect: a signed double-submit cookie. The
// browser gets a random nonce in the cookie csrfCookie (HttpOnly, SameSite
// Lax); the form carries HMAC(key, nonce). A forged form cannot carry the
// token of a cookie it cannot read, and an attacker who can plant a cookie
// (a neighbouring subdomain) still cannot compute the token for it without
// the key. Requests a browser marks as cross-site (Sec-Fetch-Site) are
// refused outright.
const (
	csrfCookie = "roamgate_csrf"
	csrfField  = "csrf"
	csrfMaxAge = 12 * 60 * 60 // seconds: a splash page left open over lunch still works
	nonceBytes = 32
)

var b64 = base64.RawURLEncoding

type csrfGuard struct{ key []byte }

// newCSRFGuard derives the token key from key (at least 32 bytes), or makes
// a random one if key is nil: tokens then do not survive a restart, and
// gateways behind one load balancer must share a key.
func newCSRFGuard(key []byte) (*csrfGuard, error) {
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("portal: csrf key: %w", err)
		}
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("portal: csrf key has %d bytes, need at least 32", len(key))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("roamgate portal csrf v1"))
	return &csrfGuard{key: mac.Sum(nil)}, nil
}

// nonce returns a fresh cookie value.
func (g *csrfGuard) nonce() (string, error) {
	b := make([]byte, nonceBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("portal: csrf nonce: %w", err)
	}
	return b64.EncodeToString(b), nil
}

// wellFormed reports whether nonce could have come from nonce().
func wellFormed(nonce string) bool {
	if len(nonce) != b64.EncodedLen(nonceBytes) {
		return false
	}
	_, err := b64.DecodeString(nonce)
	return err == nil
}

// token is the form value that goes with nonce.
func (g *csrfGuard) token(nonce string) string {
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte(nonce))
	return b64.EncodeToString(mac.Sum(nil))
}

// valid reports whether token goes with nonce, in constant time.
func (g *csrfGuard) valid(nonce, token string) bool {
	if !wellFormed(nonce) || len(token) != b64.EncodedLen(sha256.Size) {
		return false
	}
	return hmac.Equal([]byte(g.token(nonce)), []byte(token))
}
