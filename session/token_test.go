package session_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

const (
	issuer   = sessiontest.Issuer
	audience = sessiontest.Audience
	maxAge   = 24 * time.Hour
)

func newClock() *testtool.Clock {
	return testtool.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
}

// tokenErrors are the verification sentinels; each rejection matches one.
var tokenErrors = []error{
	session.ErrTokenMalformed, session.ErrTokenAlgorithm, session.ErrTokenUnknownKey,
	session.ErrTokenSignature, session.ErrTokenExpired, session.ErrTokenNotYetValid,
	session.ErrTokenIssuer, session.ErrTokenAudience, session.ErrTokenClaims,
}

// checkTokenError asserts that err matches want and no other sentinel.
func checkTokenError(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: %v, want success", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify: err = %v, want %v", err, want)
	}
	for _, other := range tokenErrors {
		if other != want && errors.Is(err, other) {
			t.Errorf("Verify: err = %v matches %v as well as %v", err, other, want)
		}
	}
}

// ringSeeds reads the private keys from the ring file, as only a test (or
// someone holding the data directory) can: it lets the test sign tokens with
// the ring's own key but chosen claims.
func ringSeeds(t *testing.T, dir string) map[string]ed25519.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, session.KeyRingFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Keys []struct {
			ID   string `json:"kid"`
			Seed []byte `json:"seed"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	keys := map[string]ed25519.PrivateKey{}
	for _, k := range f.Keys {
		keys[k.ID] = ed25519.NewKeyFromSeed(k.Seed)
	}
	return keys
}

func newRing(t *testing.T, c *testtool.Clock) (*session.KeyRing, string) {
	t.Helper()
	dir := t.TempDir()
	ring, err := session.OpenKeyRing(dir, maxAge, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ring, dir
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenIssueVerify(t *testing.T) {
	c := newClock()
	ring, _ := newRing(t, c)
	tokens := session.NewTokens(ring, issuer, audience, c.Now)
	s := session.Session{ID: "0123456789abcdef0123456789abcdef", MACKey: "mackey", Created: c.Now(), Expires: c.Now().Add(time.Hour)}
	tok, err := tokens.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := tokens.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != s.ID || claims.MACKey != s.MACKey || claims.Issuer != issuer {
		t.Errorf("claims = %+v", claims)
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != audience {
		t.Errorf("aud = %v, want [%s]", claims.Audience, audience)
	}
	if !claims.ExpiresAt.Equal(s.Expires) || !claims.NotBefore.Equal(s.Created) || !claims.IssuedAt.Equal(c.Now()) {
		t.Errorf("exp/nbf/iat = %v/%v/%v", claims.ExpiresAt, claims.NotBefore, claims.IssuedAt)
	}
	if claims.ID == "" {
		t.Error("no jti")
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "EdDSA" || parsed.Header["kid"] != ring.KeyIDs()[0] {
		t.Errorf("header = %v, want alg EdDSA and kid %s", parsed.Header, ring.KeyIDs()[0])
	}
	again, err := tokens.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	if again == tok {
		t.Error("two tokens for one session are identical (jti must differ)")
	}
}

func TestTokenRejections(t *testing.T) {
	c := newClock()
	ring, dir := newRing(t, c)
	tokens := session.NewTokens(ring, issuer, audience, c.Now)
	kid := ring.KeyIDs()[0]
	priv := ringSeeds(t, dir)[kid]
	pub := priv.Public().(ed25519.PublicKey)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := c.Now()

	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": issuer, "aud": audience, "sub": "0123456789abcdef0123456789abcdef",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x", "mk": "mackey",
		}
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		cl := good()
		change(cl)
		return cl
	}
	valid := sign(t, jwt.SigningMethodEdDSA, priv, kid, good())

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", valid, nil},
		{"expired", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Minute).Unix()
			c["nbf"] = now.Add(-time.Hour).Unix()
			c["iat"] = now.Add(-time.Hour).Unix()
		})), session.ErrTokenExpired},
		{"not yet valid", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) {
			c["nbf"] = now.Add(time.Minute).Unix()
		})), session.ErrTokenNotYetValid},
		{"issued in the future", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) {
			c["iat"] = now.Add(time.Minute).Unix()
		})), session.ErrTokenNotYetValid},
		{"wrong kid (a ring kid, another key)", sign(t, jwt.SigningMethodEdDSA, stranger, kid, good()), session.ErrTokenSignature},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, stranger, "no-such-key", good()), session.ErrTokenUnknownKey},
		{"no kid", sign(t, jwt.SigningMethodEdDSA, priv, "", good()), session.ErrTokenUnknownKey},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, good()), session.ErrTokenAlgorithm},
		{"HS256 with the public key as secret", sign(t, jwt.SigningMethodHS256, []byte(pub), kid, good()), session.ErrTokenAlgorithm},
		{"HS256 with the base64 public key as secret", sign(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), kid, good()), session.ErrTokenAlgorithm},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, kid, good()), session.ErrTokenAlgorithm},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), session.ErrTokenAudience},
		{"missing aud", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { delete(c, "aud") })), session.ErrTokenClaims},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), session.ErrTokenIssuer},
		{"tampered payload", tamper(t, valid, func(c map[string]any) { c["sub"] = "ffffffffffffffffffffffffffffffff" }), session.ErrTokenSignature},
		{"tampered expiry", tamper(t, valid, func(c map[string]any) { c["exp"] = now.Add(1000 * time.Hour).Unix() }), session.ErrTokenSignature},
		{"tampered header", tamperHeader(t, valid), session.ErrTokenSignature},
		{"signature stripped", valid[:strings.LastIndexByte(valid, '.')+1], session.ErrTokenSignature},
		{"missing exp", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { delete(c, "exp") })), session.ErrTokenClaims},
		{"missing sub", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { delete(c, "sub") })), session.ErrTokenClaims},
		{"missing nbf", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { delete(c, "nbf") })), session.ErrTokenClaims},
		{"exp not a number", sign(t, jwt.SigningMethodEdDSA, priv, kid, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), session.ErrTokenMalformed},
		{"empty", "", session.ErrTokenMalformed},
		{"garbage", "not-a-token", session.ErrTokenMalformed},
		{"bad base64", "a.b.c", session.ErrTokenMalformed},
		{"oversized", valid + strings.Repeat("A", 4096), session.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := tokens.Verify(tt.token)
			checkTokenError(t, err, tt.want)
			if tt.want != nil && claims != nil {
				t.Errorf("Verify returned claims with its error")
			}
		})
	}

	// Tokens of another deployment (same keys, other issuer or audience).
	for _, tt := range []struct {
		name, iss, aud string
		want           error
	}{
		{"other audience", issuer, "other-app", session.ErrTokenAudience},
		{"other issuer", "https://other.test", audience, session.ErrTokenIssuer},
	} {
		t.Run("issued by Tokens with "+tt.name, func(t *testing.T) {
			other := session.NewTokens(ring, tt.iss, tt.aud, c.Now)
			tok, err := other.Issue(session.Session{ID: "0123456789abcdef0123456789abcdef", Created: now, Expires: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tokens.Verify(tok)
			checkTokenError(t, err, tt.want)
		})
	}
}

// tamper changes the payload of a token and keeps its signature.
func tamper(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	change(claims)
	raw, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// tamperHeader adds a header field and keeps the signature.
func tamperHeader(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["typ"] = "evil"
	raw, _ = json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestTokenLifetime(t *testing.T) {
	c := newClock()
	ring, _ := newRing(t, c)
	tokens := session.NewTokens(ring, issuer, audience, c.Now)
	start := c.Now()
	s := session.Session{ID: "0123456789abcdef0123456789abcdef", Created: start.Add(time.Minute), Expires: start.Add(time.Hour)}
	tok, err := tokens.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Duration
		want error
	}{
		{0, session.ErrTokenNotYetValid}, // nbf is the session's creation
		{time.Minute, nil},
		{59 * time.Minute, nil},
		{time.Hour + time.Minute, session.ErrTokenExpired},
	} {
		t.Run(tt.at.String(), func(t *testing.T) {
			c := testtool.NewClock(start.Add(tt.at))
			_, err := session.NewTokens(ring, issuer, audience, c.Now).Verify(tok)
			checkTokenError(t, err, tt.want)
		})
	}
}

func TestKeyRotation(t *testing.T) {
	c := newClock()
	ring, dir := newRing(t, c)
	tokens := session.NewTokens(ring, issuer, audience, c.Now)
	issue := func(lifetime time.Duration) string {
		t.Helper()
		now := c.Now()
		tok, err := tokens.Issue(session.Session{ID: "0123456789abcdef0123456789abcdef", Created: now, Expires: now.Add(lifetime)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	kidOf := func(tok string) string {
		t.Helper()
		p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := p.Header["kid"].(string)
		return kid
	}

	first := ring.KeyIDs()
	if len(first) != 1 {
		t.Fatalf("a new ring holds %d keys, want 1", len(first))
	}
	oldTok := issue(time.Hour)
	// A token living far longer than maxAge (the policy never issues one)
	// isolates key retirement from token expiry.
	longTok := issue(10 * maxAge)

	c.Add(time.Minute)
	newKid, err := ring.Rotate(c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if newKid == first[0] {
		t.Fatal("Rotate returned the old key ID")
	}
	if got := ring.KeyIDs(); len(got) != 2 || got[0] != first[0] || got[1] != newKid {
		t.Fatalf("KeyIDs after Rotate = %v, want [%s %s]", got, first[0], newKid)
	}
	newTok := issue(time.Hour)
	if kidOf(newTok) != newKid {
		t.Errorf("new token kid = %s, want the new key %s", kidOf(newTok), newKid)
	}
	if kidOf(oldTok) != first[0] {
		t.Errorf("old token kid = %s, want %s", kidOf(oldTok), first[0])
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok, "long": longTok} {
		if _, err := tokens.Verify(tok); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}

	// Re-opened from disk, the ring keeps both keys.
	reopened, err := session.OpenKeyRing(dir, maxAge, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := reopened.KeyIDs(); len(got) != 2 || got[0] != first[0] || got[1] != newKid {
		t.Errorf("reopened KeyIDs = %v, want [%s %s]", got, first[0], newKid)
	}
	rt := session.NewTokens(reopened, issuer, audience, c.Now)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := rt.Verify(tok); err != nil {
			t.Errorf("%s token with the reopened ring: %v", name, err)
		}
	}
	if tok, err := rt.Issue(session.Session{ID: "0123456789abcdef0123456789abcdef", Created: c.Now(), Expires: c.Now().Add(time.Hour)}); err != nil || kidOf(tok) != newKid {
		t.Errorf("the reopened ring signs with %s (%v), want the newest key %s", kidOf(tok), err, newKid)
	}

	// The retired key verifies until maxAge after its retirement, then not.
	c.Add(maxAge - time.Second)
	if _, err := tokens.Verify(longTok); err != nil {
		t.Errorf("just before the retired key's end: %v", err)
	}
	c.Add(2 * time.Second)
	_, err = tokens.Verify(longTok)
	checkTokenError(t, err, session.ErrTokenUnknownKey)
	if _, err := tokens.Verify(issue(time.Hour)); err != nil {
		t.Errorf("the current key stopped verifying: %v", err)
	}

	// Opening the ring now drops the dead key, from verification and JWKS.
	late, err := session.OpenKeyRing(dir, maxAge, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := late.KeyIDs(); len(got) != 1 || got[0] != newKid {
		t.Errorf("KeyIDs long after rotation = %v, want [%s]", got, newKid)
	}
	if set := late.JWKS(); len(set.Keys) != 1 || set.Keys[0].KeyID != newKid {
		t.Errorf("JWKS long after rotation = %+v", set)
	}
}

func TestKeyRingFile(t *testing.T) {
	c := newClock()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := session.OpenKeyRing(dir, maxAge, c.Now()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, session.KeyRingFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("key ring mode = %v, want 0600", fi.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	edit := func(t *testing.T, change func(keys []map[string]any) []map[string]any) string {
		t.Helper()
		var f map[string][]map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		f["keys"] = change(f["keys"])
		out, _ := json.Marshal(f)
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, session.KeyRingFile), out, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	otherSeed := base64.StdEncoding.EncodeToString(make([]byte, ed25519.SeedSize))
	tests := []struct {
		name   string
		change func(keys []map[string]any) []map[string]any
	}{
		{"kid does not match the key", func(k []map[string]any) []map[string]any { k[0]["seed"] = otherSeed; return k }},
		{"short seed", func(k []map[string]any) []map[string]any { k[0]["seed"] = "AAAA"; return k }},
		{"no keys", func(k []map[string]any) []map[string]any { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := edit(t, tt.change)
			if _, err := session.OpenKeyRing(d, maxAge, c.Now()); err == nil {
				t.Error("OpenKeyRing accepted a damaged ring")
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, session.KeyRingFile), []byte("{"), 0o600)
		if _, err := session.OpenKeyRing(d, maxAge, c.Now()); err == nil {
			t.Error("OpenKeyRing accepted a broken file")
		}
	})
}

func TestJWKS(t *testing.T) {
	c := newClock()
	ring, _ := newRing(t, c)
	tokens := session.NewTokens(ring, issuer, audience, c.Now)
	if _, err := ring.Rotate(c.Now()); err != nil {
		t.Fatal(err)
	}
	ids := ring.KeyIDs()
	set := ring.JWKS()
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
	if set.Keys[0].KeyID != ids[1] || set.Keys[1].KeyID != ids[0] {
		t.Errorf("JWKS order = %s, %s; want the newest first", set.Keys[0].KeyID, set.Keys[1].KeyID)
	}
	for _, k := range set.Keys {
		if k.KeyType != "OKP" || k.Curve != "Ed25519" || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %s = %+v, want kty OKP, crv Ed25519, alg EdDSA, use sig", k.KeyID, k)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Errorf("key %s: x = %q is not a base64url Ed25519 public key", k.KeyID, k.X)
		}
		// The kid is the RFC 7638 thumbprint of the key.
		sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + k.X + `"}`))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); k.KeyID != want {
			t.Errorf("kid %s is not the thumbprint %s", k.KeyID, want)
		}
	}

	// A relying party can verify a token with nothing but the JWKS.
	tok, err := tokens.Issue(session.Session{ID: "0123456789abcdef0123456789abcdef", Created: c.Now(), Expires: c.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	x, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if !ed25519.Verify(x, []byte(parts[0]+"."+parts[1]), sig) {
		t.Error("the newest JWKS key does not verify a new token")
	}

	// The wire names are the RFC ones.
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	for _, k := range wire.Keys {
		for _, name := range []string{"kty", "crv", "x", "kid", "use", "alg"} {
			if k[name] == "" {
				t.Errorf("JWKS JSON key lacks %q: %s", name, raw)
			}
		}
		if _, ok := k["d"]; ok {
			t.Errorf("JWKS JSON holds a private key: %s", raw)
		}
	}
}
