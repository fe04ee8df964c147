package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Admin tokens are HS256 JWTs with their own issuer and audience, signed
// with a key derived for admin use only: a citizen's session token can
// never pass as one, nor the other way round.
const (
	tokenIssuer   = "roamgate admin"
	tokenAudience = "roamgate-admin"
	// tokenLifetime is short; the cookie is renewed while the admin works
	// (sliding), up to maxLogin after the password was given.
	tokenLifetime = 15 * time.Minute
	renewBelow    = 10 * time.Minute
	maxLogin      = 12 * time.Hour
)

// claims of an admin token. ID (jti) names the login and stays the same
// across renewals, so that logout can refuse every token of that login.
type claims struct {
	jwt.RegisteredClaims
	Role     Role  `json:"role"`
	AuthTime int64 `json:"auth_time"`
}

type tokens struct {
	key []byte
	now func() time.Time

	mu     sync.Mutex
	logout map[string]time.Time // login ID → when its tokens end anyway
}

func newTokens(key []byte, now func() time.Time) (*tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("admin: token key must have at least 32 bytes")
	}
	return &tokens{key: key, now: now, logout: map[string]time.Time{}}, nil
}

func newLoginID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// issue signs a token for a login; authTime is when the password was given.
func (t *tokens) issue(user string, role Role, loginID string, authTime time.Time) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(tokenLifetime)
	if end := authTime.Add(maxLogin); exp.After(end) {
		exp = end
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Audience: jwt.ClaimStrings{tokenAudience}, Subject: user, ID: loginID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Role: role, AuthTime: authTime.Unix(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("admin: sign token: %w", err)
	}
	return s, exp, nil
}

var errLoggedOut = errors.New("admin: logged out")

// verify pins the algorithm, issuer and audience and requires exp.
func (t *tokens) verify(s string) (*claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer), jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(t.now))
	if err != nil {
		return nil, err
	}
	if c.ID == "" || c.Subject == "" {
		return nil, errors.New("admin: token without login")
	}
	t.mu.Lock()
	_, out := t.logout[c.ID]
	t.mu.Unlock()
	if out {
		return nil, errLoggedOut
	}
	return &c, nil
}

// revoke refuses every token of a login from now on.
func (t *tokens) revoke(c *claims) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, until := range t.logout {
		if now.After(until) {
			delete(t.logout, id)
		}
	}
	t.logout[c.ID] = time.Unix(c.AuthTime, 0).Add(maxLogin)
}

// csrf is the anti-forgery value for a secret (a login ID, or the nonce of
// the login form's cookie): an HMAC, so the server keeps no state.
func (t *tokens) csrf(purpose, secret string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("roamgate admin csrf\x00" + purpose + "\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (t *tokens) checkCSRF(purpose, secret, got string) bool {
	if secret == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(t.csrf(purpose, secret)), []byte(got))
}
