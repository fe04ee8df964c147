package session

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token verification errors. Each rejected token matches exactly one of them
// with errors.Is, so callers can count and report the reason.
var (
	ErrTokenMalformed   = errors.New("session: token is malformed")
	ErrTokenAlgorithm   = errors.New("session: token algorithm is not EdDSA")
	ErrTokenUnknownKey  = errors.New("session: token key ID is unknown or retired")
	ErrTokenSignature   = errors.New("session: token signature is invalid")
	ErrTokenExpired     = errors.New("session: token has expired")
	ErrTokenNotYetValid = errors.New("session: token is not valid yet")
	ErrTokenIssuer      = errors.New("session: token issuer is wrong")
	ErrTokenAudience    = errors.New("session: token audience is wrong")
	ErrTokenClaims      = errors.New("session: token claims are invalid")
)

// Claims are the claims of a session token (DESIGN §3).
type Claims struct {
	jwt.RegisteredClaims
	// MACKey binds the token to the device it was issued for; empty when the
	// access point told us no MAC.
	MACKey MACKey `json:"mk,omitempty"`
}

// Tokens issues and verifies session tokens with the keys of a KeyRing.
type Tokens struct {
	ring     *KeyRing
	issuer   string
	audience string
	now      func() time.Time
}

// NewTokens returns a Tokens for the given issuer and audience. now may be nil
// (time.Now).
func NewTokens(ring *KeyRing, issuer, audience string, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{ring: ring, issuer: issuer, audience: audience, now: now}
}

// Issue signs a token for s, valid from its creation until it expires.
func (t *Tokens) Issue(s Session) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("session: issue token: %w", err)
	}
	key := t.ring.signer()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			Subject:   s.ID,
			IssuedAt:  jwt.NewNumericDate(t.now()),
			NotBefore: jwt.NewNumericDate(s.Created),
			ExpiresAt: jwt.NewNumericDate(s.Expires),
			ID:        hex.EncodeToString(jti),
		},
		MACKey: s.MACKey,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.ID
	signed, err := tok.SignedString(key.priv)
	if err != nil {
		return "", fmt.Errorf("session: issue token: %w", err)
	}
	return signed, nil
}

// maxTokenLength bounds the work an attacker can cause with a huge cookie.
const maxTokenLength = 4096

// Verify checks a token's algorithm (EdDSA only), key, signature, issuer,
// audience and times (exp required) and returns its claims.
func (t *Tokens) Verify(token string) (*Claims, error) {
	if len(token) > maxTokenLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrTokenMalformed, maxTokenLength)
	}
	now := t.now()
	parser := jwt.NewParser(
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(5*time.Second),
	)
	var claims Claims
	_, err := parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		// Pin the algorithm here rather than with WithValidMethods so that
		// "none" and HS256 get their own error instead of a signature error.
		if _, ok := tok.Method.(*jwt.SigningMethodEd25519); !ok {
			return nil, fmt.Errorf("%w: %q", ErrTokenAlgorithm, tok.Header["alg"])
		}
		kid, _ := tok.Header["kid"].(string)
		pub, ok := t.ring.verifier(kid, now)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrTokenUnknownKey, truncate(kid))
		}
		return pub, nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if claims.Subject == "" || claims.NotBefore == nil {
		return nil, fmt.Errorf("%w: sub and nbf are required", ErrTokenClaims)
	}
	return &claims, nil
}

// classify maps the jwt library's errors onto ours, keeping the detail.
func classify(err error) error {
	for _, own := range []error{ErrTokenAlgorithm, ErrTokenUnknownKey} {
		if errors.Is(err, own) {
			return err
		}
	}
	pairs := []struct{ lib, own error }{
		{jwt.ErrTokenMalformed, ErrTokenMalformed},
		{jwt.ErrTokenSignatureInvalid, ErrTokenSignature},
		{jwt.ErrTokenExpired, ErrTokenExpired},
		{jwt.ErrTokenNotValidYet, ErrTokenNotYetValid},
		{jwt.ErrTokenUsedBeforeIssued, ErrTokenNotYetValid},
		{jwt.ErrTokenInvalidIssuer, ErrTokenIssuer},
		{jwt.ErrTokenInvalidAudience, ErrTokenAudience},
	}
	for _, p := range pairs {
		if errors.Is(err, p.lib) {
			return fmt.Errorf("%w: %v", p.own, err)
		}
	}
	return fmt.Errorf("%w: %v", ErrTokenClaims, err)
}
