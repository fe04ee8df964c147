package admin

import (
	"context"
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
// across renewals; it binds the CSRF value. Gen is the admin's generation
// when the password was given: signing out raises it in the store, which
// refuses every earlier token of that admin on every gateway, after a
// restart too.
type claims struct {
	jwt.RegisteredClaims
	Role     Role   `json:"role"`
	AuthTime int64  `json:"auth_time"`
	Gen      uint64 `json:"gen"`
}

type tokens struct {
	key  []byte
	now  func() time.Time
	gens Generations

	mu   sync.Mutex
	last map[string]uint64 // the last generation read per admin
}

func newTokens(key []byte, gens Generations, now func() time.Time) (*tokens, error) {
	if len(key) < 32 {
		return nil, errors.New("admin: token key must have at least 32 bytes")
	}
	if gens == nil {
		gens = &memGenerations{m: map[string]uint64{}}
	}
	return &tokens{key: key, now: now, gens: gens, last: map[string]uint64{}}, nil
}

// errStoreAway: the admin's generation could not be read and none was read
// before.
var errStoreAway = errors.New("admin: the session store does not answer")

// generation is the admin's current generation. While the store does not
// answer it is the last one read, so that the IT team keeps its dashboard
// in an outage (a sign-out cannot be stored then either).
func (t *tokens) generation(ctx context.Context, name string) (uint64, error) {
	g, err := t.gens.AdminGeneration(ctx, name)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if last, ok := t.last[name]; ok {
			return last, nil
		}
		return 0, fmt.Errorf("%w: %w", errStoreAway, err)
	}
	// Only names from our own signed tokens and configured users get
	// here, so the map stays as small as admin.users.
	t.last[name] = g
	return g, nil
}

// memGenerations keeps generations in memory: sign-outs then hold only
// until the process ends (no store wired, as in some tests).
type memGenerations struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (g *memGenerations) AdminGeneration(_ context.Context, name string) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[name], nil
}

func (g *memGenerations) RaiseAdminGeneration(_ context.Context, name string) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[name]++
	return g.m[name], nil
}

func newLoginID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// issue signs a token for a login; authTime is when the password was given
// and gen the admin's generation then.
func (t *tokens) issue(user string, role Role, loginID string, authTime time.Time, gen uint64) (string, time.Time, error) {
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
		Role: role, AuthTime: authTime.Unix(), Gen: gen,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("admin: sign token: %w", err)
	}
	return s, exp, nil
}

var errLoggedOut = errors.New("admin: logged out")

// verify pins the algorithm, issuer and audience, requires exp, and
// refuses a token of an older generation than its admin's.
func (t *tokens) verify(ctx context.Context, s string) (*claims, error) {
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
	gen, err := t.generation(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	if c.Gen != gen {
		return nil, errLoggedOut
	}
	return &c, nil
}

// revoke refuses every token of the admin from now on, everywhere the
// store reaches.
func (t *tokens) revoke(ctx context.Context, c *claims) error {
	g, err := t.gens.RaiseAdminGeneration(ctx, c.Subject)
	if err != nil {
		return fmt.Errorf("admin: sign-out: %w", err)
	}
	t.mu.Lock()
	t.last[c.Subject] = g
	t.mu.Unlock()
	return nil
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
